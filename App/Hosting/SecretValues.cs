namespace AgentSpace.Hosting;

/// <summary>
/// Secret values known to this process (configured passwords and keys; later, credentials the vault decrypts).
/// Whatever leaves the process for error tracking has each of them replaced by <see cref="Placeholder"/>.
/// A singleton: add a value once it is in memory, before anything can fail with it.
/// </summary>
public sealed class SecretValues
{
    public const string Placeholder = "[Filtered]";

    /// <summary>Shorter values are not redacted: they would blank out ordinary words and say little about a secret.</summary>
    public const int MinimumLength = 6;

    private readonly Lock _lock = new();
    private volatile string[] _values = [];

    public int Count => _values.Length;

    /// <summary>The registered values, longest first (for filters that must find them, such as the chat's output filter).</summary>
    public IReadOnlyList<string> Values => _values;

    public void Add(string secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < MinimumLength)
        {
            return;
        }
        lock (_lock)
        {
            if (Array.IndexOf(_values, secret) >= 0)
            {
                return;
            }
            // Longest first, so a secret that contains another is replaced whole.
            _values = [.. _values.Append(secret).OrderByDescending(v => v.Length)];
        }
    }

    /// <summary>The text with every registered value replaced by <see cref="Placeholder"/>.</summary>
    public string Redact(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var value in _values)
        {
            text = text.Replace(value, Placeholder, StringComparison.Ordinal);
        }
        return text;
    }
}
