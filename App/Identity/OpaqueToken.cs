using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AgentSpace.Identity;

/// <summary>256-bit random tokens for links. Only <see cref="Hash"/> of a token is ever stored.</summary>
public static class OpaqueToken
{
    public static (string Token, byte[] Hash) Create()
    {
        var token = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (token, Hash(token));
    }

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token ?? ""));

    public static bool LooksValid(string? token) => token is { Length: 43 } && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>
/// The one canonical form of an email address. Mail is sent to it, it is stored as both Email and
/// NormalizedEmail, and accounts are looked up by exactly this value, so a look-alike spelling can
/// never reach another account (culture-sensitive upper-casing folds U+017F ſ onto S, ı onto I).
/// </summary>
public static class EmailAddress
{
    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };

    /// <summary>
    /// Trimmed, NFKC-normalised, local part in invariant lower case, domain in IDNA ASCII form (punycode,
    /// lower case); null when it is not a plausible single address. Idempotent.
    /// </summary>
    public static string? Normalize(string? input)
    {
        var trimmed = input?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > 320 || !TryNormalizeKC(trimmed, out var email) || email.Any(IsForbidden))
        {
            return null;
        }
        var at = email.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != email.LastIndexOf('@') || at == email.Length - 1)
        {
            return null;
        }
        // Lower-casing can leave a string that NFKC would change again; normalising after it keeps Normalize idempotent.
        var local = email[..at].ToLowerInvariant().Normalize(NormalizationForm.FormKC);
        string domain;
        try
        {
            domain = Idn.GetAscii(email[(at + 1)..]).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
        var result = local + "@" + domain;
        return result.Length <= 254 && domain.Contains('.', StringComparison.Ordinal) && !domain.StartsWith('.') && !domain.EndsWith('.')
            && !domain.Contains("..", StringComparison.Ordinal)
            ? result
            : null;
    }

    /// <summary>
    /// The mailbox a normalised address delivers to, for rate limits: without a "+tag" suffix, so
    /// victim+1@ and victim+2@ count against victim@.
    /// </summary>
    public static string RateKey(string normalized)
    {
        ArgumentNullException.ThrowIfNull(normalized);
        var at = normalized.LastIndexOf('@');
        var plus = normalized.IndexOf('+', StringComparison.Ordinal);
        var local = plus > 0 && plus < at ? normalized[..plus] : normalized[..Math.Max(at, 0)];
        var domain = at >= 0 ? normalized[at..] : "";
        // Gmail delivers every dotted variant of an address to one inbox: one bucket for all of them.
        if (domain is "@gmail.com" or "@googlemail.com")
        {
            local = local.Replace(".", "", StringComparison.Ordinal);
            domain = "@gmail.com";
        }
        return local + domain;
    }

    private static bool TryNormalizeKC(string s, out string normalized)
    {
        try
        {
            normalized = s.Normalize(NormalizationForm.FormKC);
            return true;
        }
        catch (ArgumentException)
        {
            // Ill-formed UTF-16 (a lone surrogate).
            normalized = "";
            return false;
        }
    }

    // Invisible characters (zero-width joiners, bidi overrides) and unassigned code points would let two
    // addresses look alike or change meaning with a later Unicode version.
    private static bool IsForbidden(char c) =>
        char.IsWhiteSpace(c) || char.IsControl(c)
        || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
        || c is ',' or ';' or '<' or '>' or '"' or '\\' or '(' or ')' or '[' or ']' or ':';
}
