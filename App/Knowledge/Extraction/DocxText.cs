using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;

namespace AgentSpace.Knowledge;

/// <summary>A Word document's text by heading (Title / Heading1..9 styles or outline levels); tables as rows of cells.</summary>
internal static class DocxText
{
    public static ExtractedDocument Read(string path, CancellationToken ct)
    {
        using var document = WordprocessingDocument.Open(path, isEditable: false);
        var body = document.MainDocumentPart?.Document?.Body ?? throw new DocumentRejectedException("The Word document has no body.");
        var sections = new SectionBuilder();
        foreach (var element in body.ChildElements)
        {
            ct.ThrowIfCancellationRequested();
            switch (element)
            {
                case Paragraph paragraph:
                    var text = TextOf(paragraph);
                    if (HeadingLevel(paragraph) is { } level && text.Trim().Length > 0)
                    {
                        sections.Heading(level, text.Trim());
                    }
                    else
                    {
                        sections.Line(text);
                    }
                    break;
                case Table table:
                    foreach (var row in table.Elements<TableRow>())
                    {
                        sections.Line(string.Join(" | ", row.Elements<TableCell>().Select(c => string.Join(" ", c.Elements<Paragraph>().Select(TextOf)).Trim())));
                    }
                    sections.Line("");
                    break;
            }
        }
        return new ExtractedDocument(DocumentKind.Docx, sections.Build());
    }

    private static int? HeadingLevel(Paragraph paragraph)
    {
        var properties = paragraph.ParagraphProperties;
        var style = properties?.ParagraphStyleId?.Val?.Value;
        if (style is not null)
        {
            if (style.Equals("Title", StringComparison.OrdinalIgnoreCase))
            {
                return 1;
            }
            if (style.StartsWith("Heading", StringComparison.OrdinalIgnoreCase) && int.TryParse(style.AsSpan(7), out var level) && level is >= 1 and <= 9)
            {
                return level;
            }
        }
        return properties?.OutlineLevel?.Val?.Value is { } outline && outline < 9 ? outline + 1 : null;
    }

    private static string TextOf(OpenXmlElement paragraph)
    {
        var text = new StringBuilder();
        foreach (var node in paragraph.Descendants())
        {
            switch (node)
            {
                case Text t:
                    text.Append(t.Text);
                    break;
                case TabChar:
                    text.Append('\t');
                    break;
                case Break or CarriageReturn:
                    text.Append('\n');
                    break;
            }
        }
        return text.ToString();
    }
}
