namespace AgentSpace.Hosting;

/// <summary>
/// Secret values known to this process: configured passwords and keys (<see cref="Add"/>, for the life of the
/// process) and long credentials the vault has opened (<see cref="AddOpened"/>, until their organization forgets
/// them). Whatever leaves the process for error tracking or logs has each of them replaced by
/// <see cref="Placeholder"/>. A singleton: add a value once it is in memory, before anything can fail with it.
/// Not a list for filtering an organization's own records or chat answers: those use the organization's own
/// secrets (Vault.TenantSecrets) and <see cref="RedactConfigured"/>, so one organization's values never change
/// another's data.
/// </summary>
public sealed class SecretValues
{
    public const string Placeholder = "[Filtered]";

    /// <summary>Shorter values are not redacted: they would blank out ordinary words and say little about a secret.</summary>
    public const int MinimumLength = 6;

    /// <summary>
    /// Values typed by an organization's Admin (API keys) are scrubbed process-wide only from this length on: a
    /// shorter "key" (a word such as "because") would blank that word out of every error report.
    /// </summary>
    public const int MinimumOpenedLength = 16;

    private readonly Lock _lock = new();
    private readonly HashSet<string> _configured = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _opened = new(StringComparer.Ordinal);
    private volatile string[] _values = [];
    private volatile string[] _configuredValues = [];

    public int Count => _values.Length;

    /// <summary>Every registered value, longest first.</summary>
    public IReadOnlyList<string> Values => _values;

    /// <summary>A configured secret (a password, the master key): scrubbed everywhere for the life of the process.</summary>
    public void Add(string secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < MinimumLength)
        {
            return;
        }
        lock (_lock)
        {
            if (_configured.Add(secret))
            {
                Rebuild();
            }
        }
    }

    /// <summary>
    /// A credential the vault opened or sealed for an organization; counted, so the same value held by two
    /// organizations stays until both have forgotten it. Values shorter than <see cref="MinimumOpenedLength"/> are ignored.
    /// </summary>
    public void AddOpened(string secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < MinimumOpenedLength)
        {
            return;
        }
        lock (_lock)
        {
            _opened[secret] = _opened.GetValueOrDefault(secret) + 1;
            if (_opened[secret] == 1)
            {
                Rebuild();
            }
        }
    }

    /// <summary>Undoes one <see cref="AddOpened"/> (the organization replaced the key, or was deleted).</summary>
    public void RemoveOpened(string secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return;
        }
        lock (_lock)
        {
            if (_opened.TryGetValue(secret, out var count))
            {
                if (count <= 1)
                {
                    _opened.Remove(secret);
                    Rebuild();
                }
                else
                {
                    _opened[secret] = count - 1;
                }
            }
        }
    }

    /// <summary>The text with every registered value replaced by <see cref="Placeholder"/> (error tracking, logs).</summary>
    public string Redact(string text) => Replace(text, _values);

    /// <summary>The text with only the configured values (master key, passwords) replaced: for an organization's own records.</summary>
    public string RedactConfigured(string text) => Replace(text, _configuredValues);

    private static string Replace(string text, string[] values)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var value in values)
        {
            text = text.Replace(value, Placeholder, StringComparison.Ordinal);
        }
        return text;
    }

    private void Rebuild()
    {
        // Longest first, so a secret that contains another is replaced whole.
        _configuredValues = [.. _configured.OrderByDescending(v => v.Length)];
        _values = [.. _configured.Union(_opened.Keys, StringComparer.Ordinal).OrderByDescending(v => v.Length)];
    }
}
