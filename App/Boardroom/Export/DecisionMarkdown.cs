using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AgentSpace.Boardroom.Export;

/// <summary>
/// A decision record as a Markdown document. Everything in the record that a member, the chair or a model wrote is
/// untrusted: it is escaped so that it reads as the text it is and can add no heading, link, image, HTML, table cell
/// or code block to the document it lands in.
/// </summary>
public static partial class DecisionMarkdown
{
    public static string Render(DecisionView record, string organizationName)
    {
        var outline = DecisionOutline.Build(record, organizationName);
        var md = new StringBuilder();
        md.Append("# ").Append(Inline(outline.Title)).Append('\n').Append('\n');
        md.Append(Inline(outline.Subtitle)).Append('\n');
        foreach (var section in outline.Sections)
        {
            md.Append('\n').Append("## ").Append(Inline(section.Title)).Append('\n');
            foreach (var block in section.Blocks)
            {
                md.Append('\n');
                Append(md, block);
            }
        }
        return md.ToString();
    }

    private static void Append(StringBuilder md, ExportBlock block)
    {
        switch (block)
        {
            case ExportParagraph paragraph:
                md.Append(Paragraphs(paragraph.Text)).Append('\n');
                break;
            case ExportNotice notice:
                md.Append("> **").Append(Inline(notice.Title)).Append("** ").Append(Inline(notice.Text)).Append('\n');
                break;
            case ExportFields fields:
                foreach (var field in fields.Fields)
                {
                    var value = field.Verbatim && HexOnly().IsMatch(field.Value) ? $"`{field.Value}`" : Inline(field.Value);
                    md.Append("- **").Append(Inline(field.Label)).Append(":** ").Append(value).Append('\n');
                }
                break;
            case ExportItems items:
                foreach (var item in items.Items)
                {
                    md.Append("- ");
                    if (item.Lead is { Length: > 0 } lead)
                    {
                        md.Append("**").Append(Inline(lead)).Append("**");
                        if (item.Text is { Length: > 0 })
                        {
                            md.Append(": ");
                        }
                    }
                    md.Append(Inline(item.Text ?? "")).Append('\n');
                    if (item.Quote is { Length: > 0 } quote)
                    {
                        md.Append("  > ").Append(Inline(quote)).Append('\n');
                    }
                }
                break;
            case ExportTable table:
                AppendRow(md, table.Columns.Select(c => c.Header));
                md.Append('|');
                foreach (var column in table.Columns)
                {
                    md.Append(column.AlignRight ? " ---: |" : " --- |");
                }
                md.Append('\n');
                foreach (var row in table.Rows)
                {
                    AppendRow(md, row);
                }
                if (table.Footer is { } footer)
                {
                    AppendRow(md, footer);
                }
                break;
            default:
                throw new InvalidOperationException($"No Markdown for {block.GetType().Name}.");
        }
    }

    private static void AppendRow(StringBuilder md, IEnumerable<string> cells)
    {
        md.Append('|');
        foreach (var cell in cells)
        {
            // A cell holds inline text only, so its start needs no guarding (and "0.0420" stays as it is).
            var text = Escape(OneLine(cell));
            md.Append(' ').Append(text.Length == 0 ? " " : text).Append(" |");
        }
        md.Append('\n');
    }

    /// <summary>
    /// Text kept on one line: every character Markdown could read as syntax is escaped (HTML as entities, so not
    /// even an escaped tag is left for a lax renderer), newlines become spaces, and the start is made safe for
    /// the places where it opens a block (a list item, a table cell).
    /// </summary>
    internal static string Inline(string text)
    {
        return SafeStart(Escape(OneLine(text)));
    }

    private static string OneLine(string text) =>
        string.Join(' ', DecisionOutline.Clean(text).Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    /// <summary>
    /// Longer text with its paragraphs and line breaks kept: each line is trimmed (leading spaces would make an
    /// indented code block) and escaped like <see cref="Inline"/>, and lines within a paragraph end in a hard break.
    /// </summary>
    internal static string Paragraphs(string text)
    {
        var paragraphs = new List<string>();
        var lines = new List<string>();
        foreach (var raw in DecisionOutline.Clean(text).Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0)
            {
                Flush();
            }
            else
            {
                lines.Add(SafeStart(Escape(line)));
            }
        }
        Flush();
        return paragraphs.Count == 0 ? "" : string.Join("\n\n", paragraphs);

        void Flush()
        {
            if (lines.Count > 0)
            {
                paragraphs.Add(string.Join("\\\n", lines));
                lines.Clear();
            }
        }
    }

    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                // Emphasis, code, links, images, footnotes, headings, tables, strikethrough and superscript,
                // and the generic-attributes extension's braces, which could put onclick= on an element.
                case '\\' or '`' or '*' or '_' or '[' or ']' or '#' or '|' or '~' or '^' or '{' or '}':
                    escaped.Append('\\').Append(c);
                    break;
                default: escaped.Append(c); break;
            }
        }
        // Bare addresses become links under the autolink extension; an escaped ':' or '.' keeps them text.
        return BareLink().Replace(escaped.ToString(), "$1\\$2");
    }

    /// <summary>A line that starts with punctuation or "1." could open a list, a quote, a setext heading or a container.</summary>
    private static string SafeStart(string line)
    {
        if (line.Length == 0)
        {
            return line;
        }
        if (char.IsAsciiDigit(line[0]))
        {
            return OrderedListMarker().Replace(line, "$1\\$2", 1);
        }
        return char.IsAscii(line[0]) && (char.IsPunctuation(line[0]) || char.IsSymbol(line[0])) && line[0] is not ('\\' or '&')
            ? "\\" + line
            : line;
    }

    [GeneratedRegex(@"(?i)(https?|ftps?|mailto|tel|www)([:.])")]
    private static partial Regex BareLink();

    [GeneratedRegex(@"^(\d{1,9})([.)])")]
    private static partial Regex OrderedListMarker();

    [GeneratedRegex("^[0-9a-f]{1,128}$")]
    private static partial Regex HexOnly();
}

/// <summary>
/// The sections of an exported decision record, in plain (cleaned, unescaped) text. The Markdown and the PDF
/// exports both render this one outline, so the two always say the same thing in the same order.
/// </summary>
internal sealed record ExportOutline(string Title, string Subtitle, string Footer, IReadOnlyList<ExportSection> Sections);

internal sealed record ExportSection(string Title, IReadOnlyList<ExportBlock> Blocks);

internal abstract record ExportBlock;

/// <summary>Free text whose paragraphs and line breaks are kept.</summary>
internal sealed record ExportParagraph(string Text) : ExportBlock;

/// <summary>Something a reader must not miss, such as a record no language model wrote.</summary>
internal sealed record ExportNotice(string Title, string Text) : ExportBlock;

internal sealed record ExportField(string Label, string Value, bool Verbatim = false);

/// <summary>Label and value pairs; a verbatim value (a hash) is shown as code.</summary>
internal sealed record ExportFields(IReadOnlyList<ExportField> Fields) : ExportBlock;

internal sealed record ExportItem(string? Lead, string? Text, string? Quote = null);

/// <summary>A list whose entries may have a bold lead, a text and a quoted excerpt.</summary>
internal sealed record ExportItems(IReadOnlyList<ExportItem> Items) : ExportBlock;

/// <summary>A table column; <see cref="Weight"/> is its share of the page width in the PDF.</summary>
internal sealed record ExportColumn(string Header, float Weight, bool AlignRight = false);

internal sealed record ExportTable(IReadOnlyList<ExportColumn> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, IReadOnlyList<string>? Footer = null) : ExportBlock;

internal static class DecisionOutline
{
    public const string OfflineNotice =
        "The offline provider answered for every participant, so no language model wrote any part of this record.";

    public static ExportOutline Build(DecisionView record, string organizationName)
    {
        ArgumentNullException.ThrowIfNull(record);
        var content = record.Content ?? throw new ArgumentException("The record has no content.", nameof(record));
        var organization = Clean(organizationName).Trim();
        var title = Clean(content.Question).Trim() is { Length: > 0 } question ? question : "Untitled decision";
        var label = $"Decision record {record.Number.ToString(CultureInfo.InvariantCulture)}";
        var subtitle = organization.Length > 0 ? $"{organization} · {label}" : label;

        var status = new List<ExportField> { new("Status", record.Status == DecisionStatus.Superseded ? "Superseded" : "Final") };
        if (record.SupersedesId is { } supersedes)
        {
            status.Add(new("Supersedes record", supersedes.ToString("D")));
        }
        if (record.SupersededById is { } supersededBy)
        {
            status.Add(new("Superseded by", $"record {supersededBy:D}"));
        }
        var statusBlocks = new List<ExportBlock> { new ExportFields(status) };
        if (content.ProducedOffline)
        {
            statusBlocks.Add(new ExportNotice("Produced offline.", OfflineNotice));
        }

        var sections = new List<ExportSection>
        {
            new("Record", statusBlocks),
            new("Decision", [Text(content.Decision, "No decision was recorded.")]),
            new("Rationale", [Text(content.Rationale, "No rationale was recorded.")]),
            new("Options weighed", ItemsOrNone(content.Options, o => new ExportItem(Clean(o.Option), Clean(o.Assessment)), "None recorded.")),
            new("Positions", ItemsOrNone(content.Positions,
                p => new ExportItem($"{Member(p.Member)} (confidence {Confidence(p.Confidence)})", Clean(p.Position)), "None recorded.")),
            new("Dissent", ItemsOrNone(content.Dissent, d => new ExportItem(Member(d.Member), Clean(d.Reason)), "None.")),
            new("Risks", ItemsOrNone(content.Risks, r => new ExportItem(null, Clean(r)), "None recorded.")),
            new("Action items", ActionItems(content.ActionItems)),
            new("Citations", ItemsOrNone(content.Citations, c => new ExportItem(Citation(c), null, Clean(c.Excerpt)), "None.")),
            new("Cost per participant", Costs(content.Costs)),
            new("Session",
            [
                new ExportFields(
                [
                    new("Stop reason", Clean(StopReasons.Describe(content.StopReason))),
                    new("Chair", Member(content.Chair)),
                    new("Started", Utc(content.StartedAt)),
                    new("Ended", Utc(content.EndedAt)),
                    new("Duration", Duration(content.EndedAt - content.StartedAt)),
                    new("Rounds held", content.RoundsHeld.ToString(CultureInfo.InvariantCulture)),
                ]),
            ]),
            new("Integrity",
            [
                new ExportFields(
                [
                    new("SHA-256", Clean(record.Hash), Verbatim: true),
                    new("Finalized at", Utc(record.FinalizedAt)),
                    new("Finalized by", Member(record.FinalizedBy)),
                    new("Record id", record.Id.ToString("D")),
                ]),
            ]),
        };
        return new ExportOutline(title, subtitle, subtitle, sections);
    }

    private static ExportBlock Text(string? text, string none) =>
        new ExportParagraph(Clean(text).Trim() is { Length: > 0 } clean ? clean : none);

    private static ExportBlock[] ItemsOrNone<T>(IReadOnlyList<T>? items, Func<T, ExportItem> map, string none) =>
        items is { Count: > 0 } ? [new ExportItems([.. items.Select(map)])] : [new ExportParagraph(none)];

    private static ExportBlock[] ActionItems(IReadOnlyList<ActionItem>? items) =>
        items is { Count: > 0 }
            ? [new ExportTable(
                [new("Action", 6f), new("Owner", 2.2f), new("Due", 1.6f)],
                [.. items.Select(a => (IReadOnlyList<string>)[Clean(a.Action), Member(a.Owner), a.Due?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? "not set"])])]
            : [new ExportParagraph("None.")];

    private static ExportBlock[] Costs(IReadOnlyList<ParticipantCost>? costs)
    {
        if (costs is not { Count: > 0 })
        {
            return [new ExportParagraph("No model calls were recorded.")];
        }
        ExportColumn[] columns =
        [
            new("Participant", 2.6f), new("Role", 1.8f), new("Turns", 1f, AlignRight: true),
            new("Tokens in", 1.4f, AlignRight: true), new("Tokens out", 1.4f, AlignRight: true), new("USD", 1.3f, AlignRight: true),
        ];
        var rows = costs.Select(c => (IReadOnlyList<string>)
            [Member(c.Participant), Clean(c.Role), Count(c.Turns), Count(c.InputTokens), Count(c.OutputTokens), Usd(c.CostUsd)]).ToList();
        string[] total =
        [
            "Total", "", Count(costs.Sum(c => (long)c.Turns)), Count(costs.Sum(c => (long)c.InputTokens)),
            Count(costs.Sum(c => (long)c.OutputTokens)), Usd(costs.Sum(c => c.CostUsd)),
        ];
        return [new ExportTable(columns, rows, total)];
    }

    private static string Citation(DecisionCitation citation)
    {
        var parts = new List<string> { $"[{citation.Number.ToString(CultureInfo.InvariantCulture)}] {Clean(citation.Document).Trim()}" };
        if (citation.Page is { } page)
        {
            parts.Add($"page {page.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Clean(citation.HeadingPath).Trim() is { Length: > 0 } heading)
        {
            parts.Add(heading);
        }
        return string.Join(" · ", parts);
    }

    private static string Member(string? name) => Clean(name).Trim() is { Length: > 0 } clean ? clean : "unnamed";

    public static string Confidence(double? confidence) =>
        confidence is { } c && double.IsFinite(c)
            ? (Math.Clamp(c, 0, 1) * 100).ToString("0", CultureInfo.InvariantCulture) + "%"
            : "not stated";

    public static string Utc(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Usd(decimal usd) => usd.ToString("0.0000", CultureInfo.InvariantCulture);

    private static string Count(long n) => n.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan span)
    {
        // A clock that stepped back between start and end must not print a negative duration.
        var d = span < TimeSpan.Zero ? TimeSpan.Zero : span;
        var hours = (long)d.TotalHours;
        return hours > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{hours} h {d.Minutes:00} min {d.Seconds:00} s")
            : d.Minutes > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{d.Minutes} min {d.Seconds:00} s")
                : string.Create(CultureInfo.InvariantCulture, $"{d.Seconds} s");
    }

    /// <summary>
    /// Untrusted text with line endings made "\n", other control characters made spaces, and the bidirectional
    /// overrides removed, which could make a line read differently from what it holds.
    /// </summary>
    public static string Clean(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }
        var clean = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\r')
            {
                clean.Append('\n');
                if (i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }
            }
            else if (c == '\n')
            {
                clean.Append('\n');
            }
            else if (c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F')
            {
                continue;
            }
            else if (char.IsControl(c) || c is '\u2028' or '\u2029')
            {
                clean.Append(c is '\u2028' or '\u2029' ? '\n' : ' ');
            }
            else
            {
                clean.Append(c);
            }
        }
        return clean.ToString();
    }
}
