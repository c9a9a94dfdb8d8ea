using AgentSpace.Hosting;

namespace AgentSpace.Vault;

/// <summary>
/// Per organization, the plaintexts this process's vault has sealed or opened for it (its providers' API keys),
/// one per (purpose, record): a new key for a record replaces the old one. The chat's output filter and the
/// redaction of the organization's own records (tool calls, audit details, provider errors) use only these, so
/// nothing one organization saves as a key changes what another sees, and no other organization's key or the
/// master key can be probed through them. Long values are also passed to the process-wide
/// <see cref="SecretValues"/> (error tracking) and taken back out when the organization forgets them.
/// In memory, per node: another node learns a key when it opens it.
/// </summary>
public sealed class TenantSecrets(SecretValues global)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, Dictionary<(string Purpose, Guid Record), string>> _byOrg = [];
    private readonly Dictionary<Guid, string[]> _sorted = [];

    /// <summary>Registers the plaintext of one record's secret, replacing what that record held before.</summary>
    public void Set(Guid organizationId, string purpose, Guid recordId, string plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        if (plaintext.Length < SecretValues.MinimumLength)
        {
            // As short as an ordinary word: it would withhold ordinary answers and says little about a secret.
            Remove(organizationId, purpose, recordId);
            return;
        }
        lock (_lock)
        {
            if (!_byOrg.TryGetValue(organizationId, out var secrets))
            {
                _byOrg[organizationId] = secrets = [];
            }
            if (secrets.TryGetValue((purpose, recordId), out var previous))
            {
                if (previous == plaintext)
                {
                    return;
                }
                global.RemoveOpened(previous);
            }
            secrets[(purpose, recordId)] = plaintext;
            global.AddOpened(plaintext);
            Sort(organizationId, secrets);
        }
    }

    /// <summary>Forgets one record's secret (its key was removed or cleared, or the record deleted).</summary>
    public void Remove(Guid organizationId, string purpose, Guid recordId)
    {
        lock (_lock)
        {
            if (_byOrg.TryGetValue(organizationId, out var secrets) && secrets.Remove((purpose, recordId), out var previous))
            {
                global.RemoveOpened(previous);
                Sort(organizationId, secrets);
            }
        }
    }

    /// <summary>Forgets every secret of the organization (its keys were destroyed).</summary>
    public void Forget(Guid organizationId)
    {
        lock (_lock)
        {
            if (_byOrg.Remove(organizationId, out var secrets))
            {
                foreach (var value in secrets.Values)
                {
                    global.RemoveOpened(value);
                }
            }
            _sorted.Remove(organizationId);
        }
    }

    /// <summary>The organization's secrets, longest first; empty when it has none.</summary>
    public IReadOnlyList<string> For(Guid organizationId)
    {
        lock (_lock)
        {
            return _sorted.GetValueOrDefault(organizationId) ?? [];
        }
    }

    /// <summary>
    /// The text with the organization's own secrets and the configured ones (master key, passwords) replaced by
    /// <see cref="SecretValues.Placeholder"/>; other organizations' keys play no part.
    /// </summary>
    public string Redact(Guid organizationId, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var value in For(organizationId))
        {
            text = text.Replace(value, SecretValues.Placeholder, StringComparison.Ordinal);
        }
        return global.RedactConfigured(text);
    }

    private void Sort(Guid organizationId, Dictionary<(string Purpose, Guid Record), string> secrets)
    {
        if (secrets.Count == 0)
        {
            _byOrg.Remove(organizationId);
            _sorted.Remove(organizationId);
            return;
        }
        _sorted[organizationId] = [.. secrets.Values.Distinct(StringComparer.Ordinal).OrderByDescending(v => v.Length)];
    }
}
