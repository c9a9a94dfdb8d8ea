using System.Text;
using System.Text.RegularExpressions;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace AgentSpace.Knowledge;

/// <summary>Text files: the name and the content choose Markdown, HTML, CSV or plain text (never binary against text).</summary>
internal static partial class PlainText
{
    private const int MaxCsvColumns = 100;

    public static ExtractedDocument Classify(string text, string fileName)
    {
        var normalized = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        var extension = Path.GetExtension(fileName ?? "").ToLowerInvariant();
        if (extension is ".html" or ".htm" or ".xhtml" || LooksLikeHtml(normalized))
        {
            return Html(normalized);
        }
        if (extension is ".md" or ".markdown")
        {
            return Markdown(normalized);
        }
        if (extension is ".csv" && Csv(normalized) is { } table)
        {
            return table;
        }
        if (extension is not ".txt" && AtxHeading().IsMatch(normalized))
        {
            return Markdown(normalized);
        }
        return new ExtractedDocument(DocumentKind.Text, [new ExtractedSection(normalized, [], null)]);
    }

    private static bool LooksLikeHtml(string text)
    {
        var start = text.AsSpan().TrimStart();
        return start.StartsWith("<!doctype html", StringComparison.OrdinalIgnoreCase) || start.StartsWith("<html", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Headings (ATX and setext) make the path; fenced code is kept as text and its lines are never headings.</summary>
    private static ExtractedDocument Markdown(string text)
    {
        var sections = new SectionBuilder();
        var lines = text.Split('\n');
        var fenced = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.TrimStart();
            if (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }
            if (!fenced)
            {
                var atx = AtxLine().Match(line);
                if (atx.Success)
                {
                    sections.Heading(atx.Groups[1].Length, Inline(atx.Groups[2].Value.TrimEnd('#', ' ')));
                    continue;
                }
                if (i + 1 < lines.Length && trimmed.Length > 0 && SetextUnderline().Match(lines[i + 1]) is { Success: true } underline)
                {
                    sections.Heading(underline.Groups[1].Value[0] == '=' ? 1 : 2, Inline(trimmed));
                    i++;
                    continue;
                }
            }
            sections.Line(fenced ? line : Inline(line));
        }
        return new ExtractedDocument(DocumentKind.Markdown, sections.Build());
    }

    /// <summary>Links keep their text, images their alt text; emphasis and code marks go.</summary>
    private static string Inline(string line)
    {
        var text = Image().Replace(line, "$1");
        text = Link().Replace(text, "$1");
        text = Emphasis().Replace(text, "");
        return text;
    }

    private static readonly string[] Dropped = ["script", "style", "template", "noscript", "iframe", "svg", "object", "embed", "head", "canvas"];

    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "li", "tr", "br", "pre", "blockquote", "section", "article", "table", "ul", "ol", "dd", "dt", "figcaption", "hr", "main", "header", "footer", "nav", "aside",
    };

    /// <summary>Text only, in document order; h1–h6 make the path. Nothing the page refers to is fetched.</summary>
    private static ExtractedDocument Html(string html)
    {
        var parser = new HtmlParser(new HtmlParserOptions { IsScripting = false });
        using var document = parser.ParseDocument(html);
        foreach (var element in document.QuerySelectorAll(string.Join(',', Dropped)).ToList())
        {
            element.Remove();
        }
        var sections = new SectionBuilder();
        var line = new StringBuilder();
        Walk(document.Body ?? (INode)document.DocumentElement);
        sections.Line(line.ToString());
        return new ExtractedDocument(DocumentKind.Html, sections.Build());

        void Walk(INode node)
        {
            foreach (var child in node.ChildNodes)
            {
                switch (child)
                {
                    case IText text:
                        line.Append(text.Data);
                        break;
                    case IElement element when element.LocalName.Length == 2 && element.LocalName[0] == 'h' && element.LocalName[1] is >= '1' and <= '6':
                        sections.Line(line.ToString());
                        line.Clear();
                        sections.Heading(element.LocalName[1] - '0', Collapse(element.TextContent));
                        break;
                    case IElement element:
                        var block = Blocks.Contains(element.LocalName);
                        if (block)
                        {
                            sections.Line(Collapse(line.ToString()));
                            line.Clear();
                        }
                        Walk(element);
                        if (block || element.LocalName is "td" or "th")
                        {
                            line.Append(element.LocalName is "td" or "th" ? " | " : "");
                        }
                        if (block)
                        {
                            sections.Line(Collapse(line.ToString()));
                            line.Clear();
                        }
                        break;
                }
            }
        }
    }

    private static string Collapse(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Each row as "header: value; ..." so a passage names its columns; null when it is not a consistent table.</summary>
    private static ExtractedDocument? Csv(string text)
    {
        var rows = CsvRows(text).Where(r => r.Count > 0 && !(r.Count == 1 && r[0].Length == 0)).ToList();
        if (rows.Count < 2)
        {
            return null;
        }
        var header = rows[0].Take(MaxCsvColumns).Select((h, i) => h.Trim().Length > 0 ? h.Trim() : $"column {i + 1}").ToList();
        var consistent = rows.Count(r => r.Count == rows[0].Count);
        if (header.Count < 2 || consistent < rows.Count * 0.8)
        {
            return null;
        }
        var lines = new StringBuilder();
        foreach (var row in rows.Skip(1))
        {
            lines.AppendJoin("; ", row.Take(MaxCsvColumns).Select((value, i) => $"{(i < header.Count ? header[i] : $"column {i + 1}")}: {value.Trim()}"));
            lines.Append('\n');
        }
        return new ExtractedDocument(DocumentKind.Csv, [new ExtractedSection(lines.ToString(), [], null)]);
    }

    /// <summary>RFC 4180 fields (quotes, doubled quotes, separators and newlines inside quotes); comma or semicolon, whichever the header uses more.</summary>
    private static IEnumerable<List<string>> CsvRows(string text)
    {
        var firstLine = text.AsSpan(0, Math.Max(0, text.IndexOf('\n') is var n and >= 0 ? n : text.Length));
        var separator = firstLine.Count(';') > firstLine.Count(',') ? ';' : ',';
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == separator)
            {
                row.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\n')
            {
                row.Add(field.ToString());
                field.Clear();
                yield return row;
                row = [];
            }
            else
            {
                field.Append(c);
            }
        }
        if (field.Length > 0 || row.Count > 0)
        {
            row.Add(field.ToString());
            yield return row;
        }
    }

    [GeneratedRegex(@"^(#{1,6})[ \t]+(.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex AtxLine();

    [GeneratedRegex(@"^#{1,6}[ \t]+\S", RegexOptions.CultureInvariant | RegexOptions.Multiline)]
    private static partial Regex AtxHeading();

    [GeneratedRegex(@"^[ ]{0,3}(=+|-+)[ \t]*$", RegexOptions.CultureInvariant)]
    private static partial Regex SetextUnderline();

    [GeneratedRegex(@"!\[([^\]]*)\]\([^)]*\)", RegexOptions.CultureInvariant)]
    private static partial Regex Image();

    [GeneratedRegex(@"\[([^\]]+)\]\([^)]*\)", RegexOptions.CultureInvariant)]
    private static partial Regex Link();

    [GeneratedRegex(@"(\*\*|__|`)", RegexOptions.CultureInvariant)]
    private static partial Regex Emphasis();
}
