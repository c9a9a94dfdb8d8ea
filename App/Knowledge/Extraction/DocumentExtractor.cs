using System.IO.Compression;
using System.Text;
using System.Xml;
using Microsoft.Extensions.Options;

namespace AgentSpace.Knowledge;

/// <summary>
/// Decides a file's kind from its content and reads its text: PDF (PdfPig), DOCX (Open XML SDK, after a zip-bomb
/// check), HTML (AngleSharp, scripts and styles dropped, nothing fetched), Markdown, CSV and plain text. It only
/// reads the file it is given and writes nothing anywhere.
/// </summary>
public sealed class DocumentExtractor(IOptions<KnowledgeOptions> options) : IDocumentExtractor
{
    private const string WordMainContentType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";
    private const string WordMacroContentType = "application/vnd.ms-word.document.macroEnabled.main+xml";
    private const int MaxZipEntries = 10_000;
    private const long SuspiciousEntryBytes = 10L * 1024 * 1024;
    private const int MaxCompressionRatio = 100;

    public async Task<ExtractedDocument> ExtractAsync(string path, string fileName, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var limits = options.Value;
        var header = new byte[8];
        int headerLength;
        long length;
        await using (var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            length = probe.Length;
            headerLength = await probe.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct);
        }
        if (length == 0)
        {
            throw new DocumentRejectedException("The file is empty.");
        }
        var head = header.AsSpan(0, headerLength);
        ExtractedDocument document;
        if (head.StartsWith("%PDF-"u8))
        {
            document = await Task.Run(() => PdfText.Read(path, limits, ct), ct);
        }
        else if (head.StartsWith("PK\u0003\u0004"u8))
        {
            document = await Task.Run(() => ReadDocx(path, limits, ct), ct);
        }
        else if (head.StartsWith((ReadOnlySpan<byte>)[0xD0, 0xCF, 0x11, 0xE0]))
        {
            throw new DocumentRejectedException("This is an encrypted or old-format Office file (.doc). Save it as .docx or PDF and upload that.");
        }
        else if (BinarySignature(head) is { } kind)
        {
            throw new DocumentRejectedException($"This is {kind}, not a document. Upload text, Markdown, HTML, PDF, Word (.docx) or CSV.");
        }
        else
        {
            var text = await ReadTextAsync(path, limits, ct);
            document = PlainText.Classify(text, fileName);
        }
        if (document.TotalChars > limits.MaxExtractedChars)
        {
            throw new DocumentRejectedException($"The document's text is longer than {limits.MaxExtractedChars:N0} characters.");
        }
        if (document.Sections.All(s => string.IsNullOrWhiteSpace(s.Text)))
        {
            throw new DocumentRejectedException("The file has no readable text.");
        }
        return document with { Sections = [.. document.Sections.Where(s => !string.IsNullOrWhiteSpace(s.Text))] };
    }

    private static string? BinarySignature(ReadOnlySpan<byte> head) =>
        head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G']) ? "a PNG image"
        : head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? "a JPEG image"
        : head.StartsWith("GIF8"u8) ? "a GIF image"
        : head.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]) ? "a gzip archive"
        : head.StartsWith((ReadOnlySpan<byte>)[0x7F, (byte)'E', (byte)'L', (byte)'F']) ? "a program (ELF)"
        : head.StartsWith("MZ"u8) ? "a program (EXE)"
        : head.StartsWith("7z"u8) || head.StartsWith("Rar!"u8) ? "an archive"
        : null;

    /// <summary>
    /// The file as text, streamed: strict UTF-8 (a byte-order mark for UTF-8 or UTF-16 is honoured), no NUL characters,
    /// never more than the character limit read into memory.
    /// </summary>
    private static async Task<string> ReadTextAsync(string path, KnowledgeOptions limits, CancellationToken ct)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        using var reader = new StreamReader(file, strict, detectEncodingFromByteOrderMarks: true);
        var text = new StringBuilder();
        var buffer = new char[64 * 1024];
        try
        {
            int read;
            while ((read = await reader.ReadAsync(buffer.AsMemory(), ct)) > 0)
            {
                if (buffer.AsSpan(0, read).Contains('\0'))
                {
                    throw new DocumentRejectedException("The file contains binary data, not text. Upload text, Markdown, HTML, PDF, Word (.docx) or CSV.");
                }
                if (text.Length + read > limits.MaxExtractedChars)
                {
                    throw new DocumentRejectedException($"The document's text is longer than {limits.MaxExtractedChars:N0} characters.");
                }
                text.Append(buffer, 0, read);
            }
        }
        catch (DecoderFallbackException)
        {
            throw new DocumentRejectedException("The file is neither UTF-8 text nor a supported document. Save text as UTF-8, or upload PDF or Word (.docx).");
        }
        return text.ToString();
    }

    private static ExtractedDocument ReadDocx(string path, KnowledgeOptions limits, CancellationToken ct)
    {
        try
        {
            using (var zip = ZipFile.OpenRead(path))
            {
                if (zip.Entries.Count > MaxZipEntries)
                {
                    throw new DocumentRejectedException($"The file holds more than {MaxZipEntries:N0} parts; it is not a document we read.");
                }
                long total = 0;
                foreach (var entry in zip.Entries)
                {
                    total += entry.Length;
                    if (entry.Length > SuspiciousEntryBytes && entry.Length > (long)MaxCompressionRatio * Math.Max(entry.CompressedLength, 1))
                    {
                        throw new DocumentRejectedException("The file expands far beyond its size (a zip bomb); it was not opened.");
                    }
                }
                if (total > limits.MaxDocxUncompressedBytes)
                {
                    throw new DocumentRejectedException($"The DOCX expands to more than {limits.MaxDocxUncompressedBytes / (1024 * 1024):N0} MB; it was not opened.");
                }
                var types = zip.GetEntry("[Content_Types].xml") ?? throw new DocumentRejectedException("This ZIP file is not a Word document (.docx).");
                string contentTypes;
                using (var reader = new StreamReader(types.Open()))
                {
                    contentTypes = reader.ReadToEnd();
                }
                if (contentTypes.Contains(WordMacroContentType, StringComparison.Ordinal))
                {
                    throw new DocumentRejectedException("Macro-enabled Word documents are not accepted. Save it as .docx without macros.");
                }
                if (!contentTypes.Contains(WordMainContentType, StringComparison.Ordinal))
                {
                    throw new DocumentRejectedException("This ZIP file is not a Word document (.docx).");
                }
            }
            return DocxText.Read(path, ct);
        }
        catch (DocumentRejectedException)
        {
            throw;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or XmlException or DocumentFormat.OpenXml.Packaging.OpenXmlPackageException or FileFormatException or InvalidOperationException or ArgumentException)
        {
            throw new DocumentRejectedException("The Word document could not be read; it may be damaged.", ex);
        }
    }
}
