using System.Diagnostics;
using AgentSpace.Boardroom;
using AgentSpace.Boardroom.Export;

namespace AgentSpace.Tests.Boardroom;

/// <summary>The exports as a reader sees them: Markdown that model-written text cannot reshape, and a real PDF that pdftotext reads.</summary>
public sealed class DecisionExportTests
{
    private static DecisionView Record(string decision, int actionItems = 1) => new(
        Guid.CreateVersion7(), Guid.CreateVersion7(), 1,
        new DecisionContent
        {
            Question = "Should we open an office in Lisbon?",
            Decision = decision,
            Rationale = "Hiring is easier there.",
            Options = [new WeighedOption("Lisbon", "Cheaper"), new WeighedOption("Wait", "Slower")],
            Positions = [new MemberPosition("Ada", "Strongly in favour", 0.8), new MemberPosition("Bo", "Against | costs", null)],
            Dissent = [new DissentNote("Bo", "Costs too high")],
            Risks = ["Supplier delay"],
            ActionItems = [.. Enumerable.Range(1, actionItems).Select(i => new ActionItem($"Action number {i}", "Legal", new DateOnly(2026, 12, 31)))],
            Citations = [new DecisionCitation(1, "policy.md", 2, "Office policy", "At least 30 staff.")],
            Costs = [new ParticipantCost("Ada", "member", 2, 100, 50, 0.0012m), new ParticipantCost("Chair", "chair", 3, 300, 90, 0.0031m)],
            StopReason = StopReasons.Consensus,
            Chair = "Chair",
            RoundsHeld = 2,
            ProducedOffline = false,
            StartedAt = new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero),
            EndedAt = new DateTimeOffset(2026, 12, 1, 9, 5, 0, TimeSpan.Zero),
        },
        new string('a', 64), new DateTimeOffset(2026, 12, 1, 9, 5, 0, TimeSpan.Zero), "owner@example.com", null, null);

    [Fact]
    public void Markdown_HostileModelText_CannotAddHeadingsLinksHtmlOrTableColumns()
    {
        var markdown = DecisionMarkdown.Render(Record("# Pwned\n<script>alert(1)</script> [click](javascript:alert(1)) | extra | cell"), "Org");

        Assert.DoesNotContain("\n# Pwned", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", markdown, StringComparison.Ordinal);
        // Brackets are escaped: no link survives.
        Assert.DoesNotMatch(@"(?<!\\)\]\(javascript:", markdown);
        Assert.Contains("Pwned", markdown, StringComparison.Ordinal);
        // The positions table keeps its columns although a position holds a pipe.
        var header = markdown.Split('\n').First(l => l.StartsWith('|') && l.Contains("Action", StringComparison.Ordinal));
        var columns = header.Count(c => c == '|');
        var row = markdown.Split('\n').First(l => l.Contains("Action number 1", StringComparison.Ordinal));
        Assert.Equal(columns, row.Split("\\|").Sum(part => part.Count(c => c == '|')));
        Assert.Contains(new string('a', 64), markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pdf_OpensInPdftotextWithTheRecordsText()
    {
        var text = await PdfTextAsync(DecisionPdf.Render(Record("Open the Lisbon office in Q2."), "Org"));

        Assert.Contains("Open the Lisbon office in Q2.", text, StringComparison.Ordinal);
        Assert.Contains("Strongly in favour", text, StringComparison.Ordinal);
        Assert.Contains("Legal", text, StringComparison.Ordinal);
        // The hash may be wrapped onto two lines.
        Assert.Contains(new string('a', 64), string.Concat(text.Where(c => !char.IsWhiteSpace(c))), StringComparison.Ordinal);
        Assert.Contains(StopReasons.Describe(StopReasons.Consensus), text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pdf_LongRecord_BreaksIntoPagesAndKeepsTheLastItem()
    {
        var bytes = DecisionPdf.Render(Record("Decided.", actionItems: 300), "Org");
        Assert.Equal("%PDF-", System.Text.Encoding.ASCII.GetString(bytes, 0, 5));

        var text = await PdfTextAsync(bytes);

        Assert.Contains("Action number 300", text, StringComparison.Ordinal);
        Assert.True(text.Count(c => c == '\f') > 1, "one page only");
    }

    private static async Task<string> PdfTextAsync(byte[] pdf)
    {
        var file = Path.Combine(Path.GetTempPath(), "decision-" + Guid.NewGuid().ToString("N") + ".pdf");
        await File.WriteAllBytesAsync(file, pdf);
        try
        {
            using var process = Process.Start(new ProcessStartInfo("pdftotext", ["-layout", file, "-"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal(0, process.ExitCode);
            return output;
        }
        finally
        {
            File.Delete(file);
        }
    }
}
