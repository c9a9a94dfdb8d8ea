using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace AgentSpace.E2E.Knowledge;

/// <summary>Small real files written with the same libraries the app reads them with.</summary>
internal static class SampleDocuments
{
    /// <summary>A PDF with one line of text per entry, one page per array.</summary>
    public static byte[] Pdf(params string[][] pages)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        foreach (var lines in pages)
        {
            var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
            var y = 780.0;
            foreach (var line in lines)
            {
                page.AddText(line, 11, new PdfPoint(40, y), font);
                y -= 18;
            }
        }
        return builder.Build();
    }

    /// <summary>A DOCX whose paragraphs are (style, text) pairs; style "Heading1" and the like make headings.</summary>
    public static byte[] Docx(params (string? Style, string Text)[] paragraphs)
    {
        using var stream = new MemoryStream();
        using (var document = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            var main = document.AddMainDocumentPart();
            var body = new Body();
            foreach (var (style, text) in paragraphs)
            {
                var paragraph = new Paragraph();
                if (style is not null)
                {
                    paragraph.Append(new ParagraphProperties(new ParagraphStyleId { Val = style }));
                }
                paragraph.Append(new Run(new Text(text) { Space = SpaceProcessingModeValues.Preserve }));
                body.Append(paragraph);
            }
            main.Document = new Document(body);
            main.Document.Save();
        }
        return stream.ToArray();
    }
}
