using UglyToad.PdfPig;
using UglyToad.PdfPig.DocumentLayoutAnalysis.TextExtractor;
using UglyToad.PdfPig.Exceptions;

namespace AgentSpace.Knowledge;

/// <summary>A PDF's text, one section per page (1-based page numbers kept for citations).</summary>
internal static class PdfText
{
    public static ExtractedDocument Read(string path, KnowledgeOptions limits, CancellationToken ct)
    {
        try
        {
            using var pdf = PdfDocument.Open(path);
            if (pdf.IsEncrypted)
            {
                throw new DocumentRejectedException("The PDF is encrypted.");
            }
            if (pdf.NumberOfPages > limits.MaxPdfPages)
            {
                throw new DocumentRejectedException($"The PDF has more than {limits.MaxPdfPages:N0} pages.");
            }
            var sections = new List<ExtractedSection>(pdf.NumberOfPages);
            long chars = 0;
            for (var number = 1; number <= pdf.NumberOfPages; number++)
            {
                ct.ThrowIfCancellationRequested();
                var text = ContentOrderTextExtractor.GetText(pdf.GetPage(number));
                chars += text.Length;
                if (chars > limits.MaxExtractedChars)
                {
                    throw new DocumentRejectedException($"The document's text is longer than {limits.MaxExtractedChars:N0} characters.");
                }
                sections.Add(new ExtractedSection(text, [], number));
            }
            if (sections.All(s => string.IsNullOrWhiteSpace(s.Text)))
            {
                throw new DocumentRejectedException("The PDF has no text layer (scanned pages are not read).");
            }
            return new ExtractedDocument(DocumentKind.Pdf, sections);
        }
        catch (DocumentRejectedException)
        {
            throw;
        }
        catch (PdfDocumentEncryptedException ex)
        {
            throw new DocumentRejectedException("The PDF is encrypted.", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // PdfPig reports a damaged file in many ways (its own parse exceptions, format and index errors).
            throw new DocumentRejectedException("The PDF could not be read; it may be damaged.", ex);
        }
    }
}
