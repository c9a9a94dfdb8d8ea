using AgentSpace.Vault;

namespace AgentSpace.Chat;

/// <summary>
/// Refuses a reply that contains the agent's instructions verbatim or one of the organization's own secrets (the
/// API keys of its providers the vault has sealed or opened: <see cref="TenantSecrets"/>). Never the process-wide
/// list: another organization's key or the master key must not change what this organization sees, or the
/// filter becomes a way to test guesses at them.
/// While a reply streams, the last <see cref="HoldBack"/> characters are never shown, whatever they are, so a
/// secret arriving piece by piece is not shown even in part, and what is shown says nothing about how the text
/// compares with a secret. Whether a reply is withheld is decided only by a whole match.
/// </summary>
public sealed class OutputFilter(TenantSecrets secrets)
{
    /// <summary>Instructions shorter than this are not matched: short phrases occur in ordinary answers.</summary>
    public const int MinimumInstructionsLength = 40;

    /// <summary>What a withheld reply says (never the secret itself).</summary>
    public static string WithheldMessage(string what) => $"The answer was withheld: it contained {what}.";

    /// <summary>The secrets a reply of this organization is checked for, longest first (read again at the end of a reply).</summary>
    public IReadOnlyList<string> SecretsOf(Guid organizationId) => secrets.For(organizationId);

    /// <summary>How many trailing characters of a growing reply are held back: the longest secret's length, 0 when there is none.</summary>
    public static int HoldBack(IReadOnlyList<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        return secrets.Count == 0 ? 0 : secrets.Max(s => s.Length);
    }

    /// <summary>
    /// How much text before the newly arrived piece must be scanned again so that a match ending in the new piece is
    /// found: the longest needle's length.
    /// </summary>
    public static int Overlap(IReadOnlyList<string> secrets, string? instructions) =>
        Math.Max(HoldBack(secrets), Rule(instructions)?.Length ?? 0);

    /// <summary>Null when <paramref name="text"/> may be shown; otherwise what it contained, in words.</summary>
    /// <param name="text">The reply, or the part of it that must be scanned (new text plus <see cref="Overlap"/>).</param>
    /// <param name="instructions">The agent's instructions.</param>
    /// <param name="secrets">The organization's secrets (<see cref="SecretsOf"/>).</param>
    public static string? Find(ReadOnlySpan<char> text, string? instructions, IReadOnlyList<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (Rule(instructions) is { } rule && text.Contains(rule, StringComparison.Ordinal))
        {
            return "the agent's instructions";
        }
        foreach (var secret in secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                return "a secret value";
            }
        }
        return null;
    }

    private static string? Rule(string? instructions) =>
        instructions?.Trim() is { Length: > MinimumInstructionsLength } rule ? rule : null;
}
