using System.Text.Json;

namespace AgentSpace.Chat;

/// <summary>Tool-call arguments as the audit log and the chat keep them: every secret replaced, long values cut.</summary>
public static class ToolArguments
{
    public const int MaxValueLength = 200;
    public const int MaxJsonLength = 4000;

    /// <param name="arguments">The call's arguments.</param>
    /// <param name="redact">Replaces the secrets of the organization the call belongs to.</param>
    public static string Redact(IDictionary<string, object?>? arguments, Func<string, string> redact)
    {
        ArgumentNullException.ThrowIfNull(redact);
        var redacted = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments ?? new Dictionary<string, object?>())
        {
            redacted[Cut(redact(name), 100)] = value is null ? null : Cut(redact(TextOf(value)), MaxValueLength);
        }
        var json = JsonSerializer.Serialize(redacted);
        return json.Length <= MaxJsonLength ? json : json[..MaxJsonLength];
    }

    /// <summary>A tool result or argument as text.</summary>
    public static string TextOf(object? value) => value switch
    {
        null => "",
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString() ?? "",
        JsonElement e => e.GetRawText(),
        _ => JsonSerializer.Serialize(value),
    };

    internal static string Cut(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
