using System.Text;
using AgentSpace.Knowledge;
using AgentSpace.Limits;
using Microsoft.Extensions.Options;

namespace AgentSpace.Tests.Knowledge.Extraction;

/// <summary>Each format read from real files; the kind decided by content; every bad file refused with its reason.</summary>
public sealed class DocumentExtractorTests : IDisposable
{
    private readonly TestFiles _files = new();
    private readonly KnowledgeOptions _options = new() { MaxExtractedChars = 1_000_000, MaxDocxUncompressedBytes = 50L * 1024 * 1024 };

    public void Dispose() => _files.Dispose();

    private Task<ExtractedDocument> ExtractAsync(string name, byte[] content) =>
        new DocumentExtractor(Options.Create(_options)).ExtractAsync(_files.Write(name, content), name, default);

    private async Task<string> RejectedAsync(string name, byte[] content) =>
        (await Assert.ThrowsAsync<DocumentRejectedException>(() => ExtractAsync(name, content))).Message;

    [Fact]
    public async Task Pdf_TwoPages_OneSectionPerPageWithItsNumber()
    {
        var document = await ExtractAsync("report.pdf", TestFiles.Pdf(["Quarterly report", "Revenue grew by nine percent."], ["Outlook", "Hiring continues in spring."]));

        Assert.Equal(DocumentKind.Pdf, document.Kind);
        Assert.Equal([1, 2], document.Sections.Select(s => s.Page!.Value));
        Assert.Contains("Revenue grew by nine percent.", document.Sections[0].Text, StringComparison.Ordinal);
        Assert.Contains("Hiring continues in spring.", document.Sections[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Docx_HeadingsBuildThePath_TablesBecomeRows()
    {
        var document = await ExtractAsync("guide.docx", TestFiles.Docx(
            ("Heading1", "Installation"), (null, "Run the installer as an administrator."),
            ("Heading2", "Linux"), (null, "Use the package from the repository."),
            ("table", "Port|Service|8080|Web"),
            ("Heading1", "Support"), (null, "Write to the help desk.")));

        Assert.Equal(DocumentKind.Docx, document.Kind);
        Assert.Equal(["Installation"], document.Sections[0].HeadingPath);
        Assert.Equal(["Installation", "Linux"], document.Sections[1].HeadingPath);
        Assert.Contains("Port | Service", document.Sections[1].Text, StringComparison.Ordinal);
        Assert.Equal(["Support"], document.Sections[2].HeadingPath);
    }

    [Fact]
    public async Task Html_ScriptsAndStylesDropped_HeadingsBuildThePath()
    {
        var html = """
            <!doctype html><html><head><title>t</title><style>p { color: red }</style></head>
            <body><h1>Returns</h1><p>Send it back within 30 days.</p><script>alert('stolen cookie')</script>
            <h2>Refunds</h2><p>Refunds take <b>ten</b> days.</p><img src="http://169.254.169.254/latest"></body></html>
            """;

        var document = await ExtractAsync("page.html", Encoding.UTF8.GetBytes(html));

        Assert.Equal(DocumentKind.Html, document.Kind);
        Assert.DoesNotContain(document.Sections, s => s.Text.Contains("stolen", StringComparison.Ordinal) || s.Text.Contains("color", StringComparison.Ordinal));
        Assert.Equal(["Returns", "Refunds"], document.Sections[1].HeadingPath);
        Assert.Contains("Refunds take ten days.", document.Sections[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Markdown_HeadingsAndFencedCode()
    {
        var markdown = "# Setup\n\nInstall **the** [tool](https://example.com).\n\n## Config\n\n```\n# not a heading\nkey = 1\n```\n\nOverview\n========\n\nDone.";

        var document = await ExtractAsync("notes.md", Encoding.UTF8.GetBytes(markdown));

        Assert.Equal(DocumentKind.Markdown, document.Kind);
        Assert.Equal("Install the tool.", document.Sections[0].Text);
        Assert.Equal(["Setup", "Config"], document.Sections[1].HeadingPath);
        Assert.Contains("# not a heading", document.Sections[1].Text, StringComparison.Ordinal);
        Assert.Equal(["Overview"], document.Sections[2].HeadingPath);
    }

    [Fact]
    public async Task Csv_RowsNameTheirColumns()
    {
        var document = await ExtractAsync("prices.csv", Encoding.UTF8.GetBytes("product,price,\"notes\"\nWidget,4.50,\"small, blue\"\nGadget,12.00,\"said \"\"new\"\"\"\n"));

        Assert.Equal(DocumentKind.Csv, document.Kind);
        Assert.Contains("product: Widget; price: 4.50; notes: small, blue", document.Sections[0].Text, StringComparison.Ordinal);
        Assert.Contains("notes: said \"new\"", document.Sections[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_Utf8WithByteOrderMark_IsReadWithoutIt()
    {
        var document = await ExtractAsync("readme.txt", [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("Grüße aus Köln.\r\nZweite Zeile.")]);

        Assert.Equal(DocumentKind.Text, document.Kind);
        Assert.Equal("Grüße aus Köln.\nZweite Zeile.", document.Sections[0].Text);
    }

    [Fact]
    public async Task ContentBeatsExtension_PdfNamedTxt_IsReadAsPdf()
    {
        var document = await ExtractAsync("notes.txt", TestFiles.Pdf(["A PDF in disguise."]));

        Assert.Equal(DocumentKind.Pdf, document.Kind);
    }

    [Theory]
    [InlineData("report.pdf", new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0 }, "a program (ELF)")]
    [InlineData("notes.txt", new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }, "a PNG image")]
    [InlineData("data.csv", new byte[] { 0x1F, 0x8B, 8, 0, 0, 0, 0, 0 }, "a gzip archive")]
    public async Task Binary_UnderADocumentName_IsRejectedNamingWhatItIs(string name, byte[] content, string what)
    {
        Assert.StartsWith($"This is {what}, not a document.", await RejectedAsync(name, content), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Xlsx_RenamedDocx_IsRejected()
    {
        Assert.Equal("This ZIP file is not a Word document (.docx).", await RejectedAsync("sheet.docx", TestFiles.ZipOfZeros(TestFiles.SheetContentTypes, 10)));
    }

    [Fact]
    public async Task Docx_ZipBomb_IsRejectedBeforeItIsOpened()
    {
        var bomb = TestFiles.ZipOfZeros(TestFiles.WordContentTypes, 300L * 1024 * 1024);
        Assert.True(bomb.Length < 1024 * 1024, $"the bomb is {bomb.Length} bytes on disk");

        var message = await RejectedAsync("bomb.docx", bomb);

        Assert.Contains("zip bomb", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Docx_TooManyParts_IsRejected()
    {
        Assert.StartsWith("The file holds more than 10,000 parts", await RejectedAsync("parts.docx", TestFiles.ZipOfZeros(TestFiles.WordContentTypes, 10, 10_001)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("broken.pdf", "%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "The PDF could not be read; it may be damaged.")]
    [InlineData("broken.docx", "PK\u0003\u0004 not really a zip", "The Word document could not be read; it may be damaged.")]
    [InlineData("blank.txt", "  \n\t\n  ", "The file has no readable text.")]
    [InlineData("old.doc", "\u00D0\u00CF\u0011\u00E0 legacy", "This is an encrypted or old-format Office file (.doc). Save it as .docx or PDF and upload that.")]
    public async Task BadFile_IsRejectedWithItsReason(string name, string content, string reason)
    {
        Assert.Equal(reason, await RejectedAsync(name, content.Select(c => (byte)c).ToArray()));
    }

    [Fact]
    public async Task EncryptedPdf_IsRejected()
    {
        // PdfPig writes no encryption, so the trailer names a standard-security /Encrypt dictionary (RC4, 128 bit) and a
        // file /ID by hand; without the password the document cannot be opened.
        var encrypt = "/Encrypt << /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 " +
            "/O <" + new string('5', 64) + "> /U <" + new string('0', 64) + "> >> " +
            "/ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]";
        var pdf = Encoding.Latin1.GetString(TestFiles.Pdf(["Secret"]));
        var at = pdf.LastIndexOf("trailer", StringComparison.Ordinal);
        var open = pdf.IndexOf("<<", at, StringComparison.Ordinal);
        var encrypted = pdf[..(open + 2)] + " " + encrypt + " " + pdf[(open + 2)..];

        Assert.Equal("The PDF is encrypted.", await RejectedAsync("locked.pdf", Encoding.Latin1.GetBytes(encrypted)));
    }

    [Fact]
    public async Task Empty_IsRejected()
    {
        Assert.Equal("The file is empty.", await RejectedAsync("empty.md", []));
    }

    [Fact]
    public async Task NotUtf8_IsRejected()
    {
        Assert.StartsWith("The file is neither UTF-8 text", await RejectedAsync("latin1.txt", Encoding.Latin1.GetBytes("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HugeSingleLine_IsRejectedWithoutReadingItAllIntoMemory()
    {
        var path = Path.Combine(_files.Folder, "line.txt");
        await using (var file = File.Create(path))
        {
            var block = Encoding.ASCII.GetBytes(new string('a', 1024 * 1024));
            for (var i = 0; i < 100; i++)
            {
                await file.WriteAsync(block);
            }
        }
        var before = GC.GetAllocatedBytesForCurrentThread();

        var rejected = await Assert.ThrowsAsync<DocumentRejectedException>(() => new DocumentExtractor(Options.Create(_options)).ExtractAsync(path, "line.txt", default));

        Assert.Equal("The document's text is longer than 1,000,000 characters.", rejected.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 40L * 1024 * 1024, "the 100 MB line was read into memory");
    }

    [Fact]
    public async Task Extraction_LeavesTheFileInPlaceAndWritesNothing()
    {
        var path = _files.Write("guide.docx", TestFiles.Docx(("Heading1", "Title"), (null, "Body text.")));
        var original = await File.ReadAllBytesAsync(path);
        var tempBefore = Directory.GetFiles(Path.GetTempPath()).ToHashSet(StringComparer.Ordinal);

        await new DocumentExtractor(Options.Create(_options)).ExtractAsync(path, "guide.docx", default);

        Assert.True(File.Exists(path));
        Assert.Single(Directory.GetFiles(_files.Folder));
        // The temp folder is shared with whatever else runs on the machine, so new files are not counted: none of
        // them may be a copy of the document or hold its text.
        foreach (var file in Directory.GetFiles(Path.GetTempPath()).Where(f => !tempBefore.Contains(f)))
        {
            byte[] bytes;
            try
            {
                bytes = new FileInfo(file).Length > 16 * 1024 * 1024 ? [] : await File.ReadAllBytesAsync(file);
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            Assert.False(bytes.AsSpan().SequenceEqual(original), $"{file} is a copy of the document");
            Assert.False(bytes.AsSpan().IndexOf("Body text."u8) >= 0, $"{file} holds the document's text");
        }
    }

    [Theory]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("C:\\x\\y.pdf", "y.pdf")]
    [InlineData("invoice\u202Efdp.exe", "invoicefdp.exe")]
    [InlineData("re\u0000port\u0007.txt", "report.txt")]
    [InlineData("...hidden.md", "hidden.md")]
    [InlineData("", "document")]
    [InlineData("   ", "document")]
    public void Sanitize_Names(string name, string expected)
    {
        Assert.Equal(expected, DocumentNames.Sanitize(name));
    }

    [Fact]
    public void Sanitize_OverlongName_KeepsTheExtension()
    {
        var name = DocumentNames.Sanitize(new string('n', 300) + ".pdf");

        Assert.Equal(DocumentNames.MaxLength, name.Length);
        Assert.EndsWith(".pdf", name, StringComparison.Ordinal);
    }
}
