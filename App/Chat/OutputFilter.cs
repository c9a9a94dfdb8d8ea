using AgentSpace.Hosting;

namespace AgentSpace.Chat;

/// <summary>
/// Refuses a reply that contains the agent's instructions verbatim or any secret this process holds
/// (<see cref="SecretValues"/>: configured keys and every key the vault has opened). Used on every streamed
/// piece, so a secret is withheld before it is shown, not after.
/// </summary>
public sealed class OutputFilter(SecretValues secrets)
{
    /// <summary>Instructions shorter than this are not matched: short phrases occur in ordinary answers.</summary>
    public const int MinimumInstructionsLength = 40;

    /// <summary>What a withheld reply says (never the secret itself).</summary>
    public static string WithheldMessage(string what) => $"The answer was withheld: it contained {what}.";

    /// <summary>Null when <paramref name="text"/> may be shown; otherwise what it contained, in words.</summary>
    /// <param name="text">The reply so far.</param>
    /// <param name="instructions">The agent's instructions.</param>
    /// <param name="checkedUpTo">
    /// How much of <paramref name="text"/> an earlier call already passed: only matches that end after it are
    /// looked for, so a streamed reply is not scanned from the start at every piece.
    /// </param>
    public string? Find(string text, string? instructions, int checkedUpTo = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rule = instructions?.Trim();
        if (rule is { Length: > MinimumInstructionsLength } && Window(text, checkedUpTo, rule.Length).Contains(rule, StringComparison.Ordinal))
        {
            return "the agent's instructions";
        }
        foreach (var secret in secrets.Values)
        {
            if (Window(text, checkedUpTo, secret.Length).Contains(secret, StringComparison.Ordinal))
            {
                return "a secret value";
            }
        }
        return null;
    }

    private static ReadOnlySpan<char> Window(string text, int checkedUpTo, int needle) =>
        text.AsSpan(Math.Clamp(checkedUpTo - needle + 1, 0, text.Length));

    /// <summary>
    /// How much of <paramref name="text"/> may be shown while it is still growing: everything except a tail
    /// that could be the start of a secret, so no part of a secret longer than what the text already
    /// settled appears even briefly.
    /// </summary>
    public int ShowableLength(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var hold = 0;
        foreach (var secret in secrets.Values)
        {
            for (var k = Math.Min(secret.Length - 1, text.Length); k > hold; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(secret.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }
        return text.Length - hold;
    }
}
