using System.Globalization;
using System.Text;

namespace AgentSpace.Knowledge;

/// <summary>Display names for uploaded files.</summary>
public static class DocumentNames
{
    public const int MaxLength = 200;

    /// <summary>
    /// The last path segment only (either slash), without control, format or bidirectional characters (so
    /// <c>invoice\u202Efdp.exe</c> cannot pose as a PDF), NFC, trimmed, no leading dots, at most
    /// <see cref="MaxLength"/> characters keeping the extension; "document" when nothing is left.
    /// </summary>
    public static string Sanitize(string? name)
    {
        var value = name ?? "";
        var slash = value.LastIndexOfAny(['/', '\\']);
        if (slash >= 0)
        {
            value = value[(slash + 1)..];
        }
        var kept = new StringBuilder(value.Length);
        foreach (var rune in value.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                continue;
            }
            kept.Append(rune.ToString());
        }
        value = kept.ToString().Normalize(NormalizationForm.FormC).Trim().TrimStart('.').Trim();
        if (value.Length > MaxLength)
        {
            var extension = Path.GetExtension(value);
            extension = extension.Length is > 1 and <= 12 ? extension : "";
            var stem = value[..(MaxLength - extension.Length)];
            if (char.IsHighSurrogate(stem[^1]))
            {
                stem = stem[..^1];
            }
            value = stem.TrimEnd() + extension;
        }
        return value.Length == 0 ? "document" : value;
    }
}
