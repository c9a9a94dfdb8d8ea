namespace AgentSpace.Vault;

/// <summary>What the UI shows of a secret after it is saved: enough to recognise it, too little to use it.</summary>
public static class SecretHint
{
    public const string Ellipsis = "…";

    /// <summary>
    /// <c>sk-proj-abc…xyz9a1b2</c> becomes <c>sk-…a1b2</c>: a vendor prefix (up to four characters before the first
    /// '-' or '_', which vendors print in their docs) and the last four characters. Secrets shorter than 16
    /// characters show only their last two; shorter than 8, nothing.
    /// </summary>
    public static string Mask(string? secret)
    {
        var value = secret?.Trim() ?? "";
        if (value.Length < 8)
        {
            return Ellipsis;
        }
        if (value.Length < 16)
        {
            return Ellipsis + value[^2..];
        }
        var separator = value.IndexOfAny(['-', '_']);
        var prefix = separator is >= 1 and <= 4 ? value[..(separator + 1)] : "";
        return prefix + Ellipsis + value[^4..];
    }
}
