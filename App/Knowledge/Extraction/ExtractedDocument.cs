namespace AgentSpace.Knowledge;

/// <summary>One piece of a document's text with where it came from (for citations).</summary>
public sealed record ExtractedSection(string Text, IReadOnlyList<string> HeadingPath, int? Page);

/// <summary>A document's text, in order, by section.</summary>
public sealed record ExtractedDocument(DocumentKind Kind, IReadOnlyList<ExtractedSection> Sections)
{
    public long TotalChars => Sections.Sum(s => (long)s.Text.Length);
}

/// <summary>
/// A file that cannot be used, with the reason as a sentence for the uploader ("The PDF is encrypted."). Every
/// bad input ends as this, never as another exception.
/// </summary>
public sealed class DocumentRejectedException : Exception
{
    public DocumentRejectedException()
    {
    }

    public DocumentRejectedException(string message) : base(message)
    {
    }

    public DocumentRejectedException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>Reads a document's text from a file, deciding its kind from the content.</summary>
public interface IDocumentExtractor
{
    /// <summary>
    /// Reads <paramref name="path"/> (never moved, deleted or written). The kind comes from the content: PDF and DOCX
    /// by their signatures and structure; anything else must be UTF-8 (or UTF-16 with a byte-order mark) text, which
    /// the name only sorts into Markdown, HTML, CSV or plain text. Throws <see cref="DocumentRejectedException"/>.
    /// </summary>
    Task<ExtractedDocument> ExtractAsync(string path, string fileName, CancellationToken ct);
}
