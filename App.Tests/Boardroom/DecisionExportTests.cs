using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AgentSpace.Boardroom;
using AgentSpace.Boardroom.Export;
using Markdig;
using Markdig.Extensions.Tables;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace AgentSpace.Tests.Boardroom;

/// <summary>What a reader of an exported decision record gets, and what hostile text in it cannot do.</summary>
public sealed partial class DecisionExportTests
{
    private const string Hostile = "# Heading\n<script>alert(1)</script> [x](javascript:alert(1)) | col";

    // Every extension a viewer might have on, with raw HTML allowed: the strictest reading of the export.
    private static readonly MarkdownPipeline Lax = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    private static readonly string[] SectionTitles =
    [
        "Record", "Decision", "Rationale", "Options weighed", "Positions", "Dissent", "Risks", "Action items",
        "Citations", "Cost per participant", "Session", "Integrity",
    ];

    [Fact]
    public void Render_FullRecord_HasEverySectionAndItsContent()
    {
        var record = Record();

        var md = DecisionMarkdown.Render(record, "Acme Corp");

        Assert.StartsWith("# Should we move the warehouse to Rotterdam?\n", md, StringComparison.Ordinal);
        Assert.Contains("Acme Corp · Decision record 7", md, StringComparison.Ordinal);
        Assert.Equal(SectionTitles, Headings(md).Skip(1).Select(h => h.Text));
        string[] expected =
        [
            "- **Status:** Final",
            "Move the warehouse to Rotterdam by the third quarter.",
            "Port fees are lower and the rail link is better.",
            "- **Stay in Hamburg**: Cheaper this year, dearer after.",
            "- **Analyst (confidence 80%)**: Rotterdam pays back within two years.",
            "- **Skeptic (confidence not stated)**: Wait one more year.",
            "- **Skeptic**: The move risks the Christmas season.",
            "- Staff may not relocate.",
            "| Action | Owner | Due |",
            "| Sign the lease | Operations | 2026-03-31 |",
            "| Tell the staff | HR | not set |",
            "\\[1\\] Lease terms.pdf · page 4 · Costs › Fees",
            "  > The annual fee is fixed for five years.",
            "| Analyst | member | 3 | 12,000 | 1,500 | 0.0420 |",
            "| Total |   | 5 | 20,000 | 2,500 | 0.0655 |",
            "- **Stop reason:** Consensus reached",
            "- **Chair:** Chair",
            "- **Started:** 2026-01-05T09:00:00Z",
            "- **Ended:** 2026-01-05T09:12:30Z",
            "- **Duration:** 12 min 30 s",
            "- **Rounds held:** 3",
            $"- **SHA-256:** `{record.Hash}`",
            "- **Finalized at:** 2026-01-05T09:13:00Z",
            "- **Finalized by:** ceo@acme.test",
        ];
        foreach (var line in expected)
        {
            Assert.Contains(line, md, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("Produced offline", md, StringComparison.Ordinal);
        Assert.DoesNotContain("Supersede", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_SupersedingOfflineRecord_SaysSoPlainly()
    {
        var supersedes = Guid.Parse("11111111-2222-3333-4444-555555555555");
        var supersededBy = Guid.Parse("99999999-8888-7777-6666-555555555555");
        var record = Record() with
        {
            SupersedesId = supersedes,
            SupersededById = supersededBy,
            Content = Record().Content with { ProducedOffline = true },
        };

        var md = DecisionMarkdown.Render(record, "Acme Corp");

        Assert.Contains("- **Status:** Superseded", md, StringComparison.Ordinal);
        Assert.Contains($"- **Supersedes record:** {supersedes:D}", md, StringComparison.Ordinal);
        Assert.Contains($"- **Superseded by:** record {supersededBy:D}", md, StringComparison.Ordinal);
        Assert.Contains("> **Produced offline.**", md, StringComparison.Ordinal);
        Assert.Contains("no language model wrote any part of this record", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_EmptyLists_SayNoneInsteadOfEmptySections()
    {
        var record = Record() with { Content = Record().Content with { Options = [], Positions = [], Dissent = [], Risks = [], ActionItems = [], Citations = [], Costs = [] } };

        var md = DecisionMarkdown.Render(record, "");

        Assert.Equal(SectionTitles, Headings(md).Skip(1).Select(h => h.Text));
        Assert.Contains("## Dissent\n\nNone.\n", md, StringComparison.Ordinal);
        Assert.Contains("## Action items\n\nNone.\n", md, StringComparison.Ordinal);
        Assert.Contains("## Cost per participant\n\nNo model calls were recorded.\n", md, StringComparison.Ordinal);
        Assert.DoesNotContain("|", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_HostileText_AddsNoHeadingLinkHtmlOrTableCell()
    {
        var md = DecisionMarkdown.Render(HostileRecord(), "<b>Evil</b> [Org](https://evil.example)");
        var document = Markdown.Parse(md, Lax);

        Assert.Equal(["Should we? # Heading <script>alert(1)</script> [x](javascript:alert(1)) | col", .. SectionTitles], Headings(md).Select(h => h.Text));
        Assert.Equal(SectionTitles.Select(t => "## " + t), md.Split('\n').Skip(1).Where(line => line.StartsWith('#')));
        Assert.DoesNotContain("<script", md, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>", md, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(document.Descendants<HtmlBlock>());
        Assert.Empty(document.Descendants<HtmlInline>());
        Assert.Empty(document.Descendants<LinkInline>());
        Assert.Empty(document.Descendants<AutolinkInline>());
        Assert.Empty(document.Descendants<CodeBlock>());
        Assert.DoesNotContain(document, block => block is QuoteBlock);

        var tables = document.Descendants<Table>().ToList();
        Assert.Equal(2, tables.Count);
        Assert.All(tables[0].Cast<TableRow>(), row => Assert.Equal(3, row.Count));
        Assert.All(tables[1].Cast<TableRow>(), row => Assert.Equal(6, row.Count));
        Assert.Equal(3, tables[0].Count); // the header and both action items

        // The text itself survives, shown as text.
        var html = Markdown.ToHtml(md, Lax);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("[x](javascript:alert(1)) | col", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<h1>Heading", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("onclick", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("---")]
    [InlineData("===")]
    [InlineData("    indented code")]
    [InlineData("```\nfenced\n```")]
    [InlineData("> quoted")]
    [InlineData("1. ordered")]
    [InlineData("- bullet")]
    [InlineData("![img](https://evil.example/x.png)")]
    [InlineData("[ref]: https://evil.example")]
    [InlineData("Visit https://evil.example or www.evil.example")]
    [InlineData("Title {onclick=alert(1)}")]
    [InlineData("&lt;script&gt;")]
    public void Render_BlockSyntaxInFreeText_StaysParagraphText(string text)
    {
        var record = Record() with { Content = Record().Content with { Decision = "Intro line\n" + text, Rationale = text } };

        var md = DecisionMarkdown.Render(record, "Acme Corp");
        var document = Markdown.Parse(md, Lax);

        Assert.Equal(SectionTitles, Headings(md).Skip(1).Select(h => h.Text));
        Assert.All(SectionBlocks(document, "Decision").Concat(SectionBlocks(document, "Rationale")), block => Assert.IsType<ParagraphBlock>(block));
        Assert.Empty(document.Descendants<CodeBlock>());
        Assert.Empty(document.Descendants<ThematicBreakBlock>());
        Assert.Empty(document.Descendants<LinkInline>());
        Assert.Empty(document.Descendants<AutolinkInline>());
        Assert.Empty(document.Descendants<LinkReferenceDefinition>());
        Assert.DoesNotContain("onclick=", Markdown.ToHtml(md, Lax).Replace("{onclick=alert(1)}", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_OtherCulture_GivesTheSameBytes()
    {
        var record = Record();
        var invariant = DecisionMarkdown.Render(record, "Acme Corp");
        var culture = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            Assert.Equal(invariant, DecisionMarkdown.Render(record, "Acme Corp"));
            Assert.Equal(DecisionPdf.Render(record, "Acme Corp"), DecisionPdf.Render(record, "Acme Corp"));
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    [Fact]
    public void RenderPdf_Record_IsAPdfWhoseTextCanBeExtracted()
    {
        var record = Record() with { Content = Record().Content with { ProducedOffline = true } };

        var pdf = DecisionPdf.Render(record, "Acme Corp");

        Assert.Equal("%PDF-", System.Text.Encoding.ASCII.GetString(pdf, 0, 5));
        var text = Words(Pdftotext(pdf));
        Assert.Contains("Should we move the warehouse to Rotterdam?", text, StringComparison.Ordinal);
        Assert.Contains("Move the warehouse to Rotterdam by the third quarter.", text, StringComparison.Ordinal);
        Assert.Contains("Rotterdam pays back within two years.", text, StringComparison.Ordinal);
        Assert.Contains("Analyst (confidence 80%)", text, StringComparison.Ordinal);
        Assert.Contains("Operations", text, StringComparison.Ordinal);
        Assert.Contains("Sign the lease", text, StringComparison.Ordinal);
        Assert.Contains(record.Hash, text, StringComparison.Ordinal);
        Assert.Contains(StopReasons.Describe(StopReasons.Consensus), text, StringComparison.Ordinal);
        Assert.Contains("no language model wrote any part of this record", text, StringComparison.Ordinal);
        Assert.Contains("The annual fee is fixed for five years.", text, StringComparison.Ordinal);
        Assert.Contains("0.0655", text, StringComparison.Ordinal);
        Assert.Contains("Acme Corp · Decision record 7", text, StringComparison.Ordinal);
        var info = PdfInfo(pdf);
        Assert.Contains($"Page 1 of {info["Pages"]}", text, StringComparison.Ordinal);
        Assert.Equal("Should we move the warehouse to Rotterdam?", info["Title"]);
        Assert.EndsWith("(A4)", info["Page size"], StringComparison.Ordinal);
    }

    [Fact]
    public void RenderPdf_ThreeHundredActionItems_SpansPagesAndKeepsTheLastItem()
    {
        var items = Enumerable.Range(1, 300)
            .Select(i => new ActionItem($"Action number {i} of the migration plan, with enough words to wrap a little in its column", $"Owner{i}", new DateOnly(2026, 1, 1).AddDays(i)))
            .ToList();
        var longRationale = string.Join("\n\n", Enumerable.Range(1, 40).Select(i => $"Paragraph {i}: " + string.Concat(Enumerable.Repeat("the board weighed cost, risk and timing again ", 12))));
        var record = Record() with { Content = Record().Content with { ActionItems = items, Rationale = longRationale } };

        var pdf = DecisionPdf.Render(record, "Acme Corp");

        var pages = int.Parse(PdfInfo(pdf)["Pages"], CultureInfo.InvariantCulture);
        Assert.True(pages > 1, $"{pages} page(s)");
        var raw = Pdftotext(pdf);
        Assert.Equal(pages, raw.Count(c => c == '\f'));
        var text = Words(raw);
        Assert.Contains("Action number 300 of the migration plan", text, StringComparison.Ordinal);
        Assert.Contains("Owner300", text, StringComparison.Ordinal);
        Assert.Contains("Paragraph 40:", text, StringComparison.Ordinal);
        Assert.Contains(record.Hash, text, StringComparison.Ordinal);
        Assert.Contains($"Page {pages} of {pages}", text, StringComparison.Ordinal);
    }

    [Fact]
    public void RenderPdf_NonLatinUnbrokenAndEmptyText_RendersWithoutFailing()
    {
        var content = Record().Content with
        {
            Question = "Переезжать ли склад? 倉庫を移転すべきか؟ هل ننقل المستودع 🚚",
            Decision = "Решение: переезжаем. " + new string('x', 3000),
            Rationale = "",
            Options = [],
            Positions = [new MemberPosition("", "", double.NaN)],
            Dissent = [],
            Risks = [],
            ActionItems = [new ActionItem("", "", null)],
            Citations = [],
            Costs = [],
        };
        var record = Record() with { Content = content };

        var pdf = DecisionPdf.Render(record, "Ακμή");

        var text = Words(Pdftotext(pdf));
        Assert.Contains("Переезжать ли склад?", text, StringComparison.Ordinal);
        Assert.Contains("Решение: переезжаем.", text, StringComparison.Ordinal);
        Assert.Contains("No rationale was recorded.", text, StringComparison.Ordinal);
        Assert.Contains("Ακμή · Decision record 7", text, StringComparison.Ordinal);
        Assert.Contains(record.Hash, text, StringComparison.Ordinal);
    }

    [Fact]
    public void RenderPdf_HostileText_IsPrintedAsText()
    {
        var text = Words(Pdftotext(DecisionPdf.Render(HostileRecord(), "Acme Corp")));

        Assert.Contains("# Heading <script>alert(1)</script> [x](javascript:alert(1)) | col", text, StringComparison.Ordinal);
    }

    private static DecisionView Record()
    {
        var content = new DecisionContent
        {
            Question = "Should we move the warehouse to Rotterdam?",
            Decision = "Move the warehouse to Rotterdam by the third quarter.",
            Rationale = "Port fees are lower and the rail link is better.\n\nThe lease is fixed for five years.",
            Options = [new("Move to Rotterdam", "Lower fees, one-off moving cost."), new("Stay in Hamburg", "Cheaper this year, dearer after.")],
            Positions = [new("Analyst", "Rotterdam pays back within two years.", 0.8), new("Skeptic", "Wait one more year.", null)],
            Dissent = [new("Skeptic", "The move risks the Christmas season.")],
            Risks = ["Staff may not relocate.", "The rail link may be late."],
            ActionItems = [new("Sign the lease", "Operations", new DateOnly(2026, 3, 31)), new("Tell the staff", "HR", null)],
            Citations = [new(1, "Lease terms.pdf", 4, "Costs › Fees", "The annual fee is fixed for five years.")],
            Costs =
            [
                new("Analyst", "member", 3, 12_000, 1_500, 0.042m),
                new("Chair", "chair", 2, 8_000, 1_000, 0.0235m),
            ],
            StopReason = StopReasons.Consensus,
            Chair = "Chair",
            RoundsHeld = 3,
            ProducedOffline = false,
            // Given in +01:00: the export shows it in UTC.
            StartedAt = new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.FromHours(1)),
            EndedAt = new DateTimeOffset(2026, 1, 5, 9, 12, 30, TimeSpan.Zero),
        };
        var id = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        var hash = DecisionHash.Of(id, null, DecisionHash.Serialize(content));
        return new DecisionView(id, Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7"), 7, content, hash,
            new DateTimeOffset(2026, 1, 5, 9, 13, 0, TimeSpan.Zero), "ceo@acme.test", null, null);
    }

    private static DecisionView HostileRecord() => Record() with
    {
        Content = Record().Content with
        {
            Question = "Should we?\n" + Hostile,
            Decision = Hostile,
            Rationale = Hostile + "\n\n" + Hostile,
            Options = [new(Hostile, Hostile)],
            Positions = [new(Hostile, Hostile, 0.5)],
            Dissent = [new(Hostile, Hostile)],
            Risks = [Hostile],
            ActionItems = [new(Hostile, Hostile, null), new("a | b | c", "x\n| y", null)],
            Citations = [new(1, Hostile, 2, Hostile, Hostile)],
            Costs = [new(Hostile, Hostile, 1, 2, 3, 0.1m)],
            Chair = Hostile,
        },
        FinalizedBy = Hostile,
    };

    private static List<(int Level, string Text)> Headings(string md) =>
        [.. Markdown.Parse(md, Lax).Descendants<HeadingBlock>().Select(h => (h.Level, PlainText(h.Inline)))];

    private static string PlainText(ContainerInline? inline) =>
        inline is null ? "" : string.Concat(inline.Descendants<Inline>().Select(i => i switch
        {
            LiteralInline literal => literal.Content.ToString(),
            HtmlEntityInline entity => entity.Transcoded.ToString(),
            _ => "",
        }));

    /// <summary>The top-level blocks between a section's heading and the next heading.</summary>
    private static List<Block> SectionBlocks(MarkdownDocument document, string title) =>
        [.. document.SkipWhile(b => b is not HeadingBlock h || PlainText(h.Inline) != title).Skip(1).TakeWhile(b => b is not HeadingBlock)];

    /// <summary>pdftotext's output with every run of whitespace made one space, so wrapped lines read as sentences.</summary>
    private static string Words(string text) => Whitespace().Replace(text, " ");

    private static string Pdftotext(byte[] pdf) => WithFile(pdf, path => Run("pdftotext", "-enc", "UTF-8", path, "-"));

    private static Dictionary<string, string> PdfInfo(byte[] pdf) =>
        WithFile(pdf, path => Run("pdfinfo", path)).Split('\n')
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.Ordinal);

    private static string WithFile(byte[] pdf, Func<string, string> read)
    {
        var path = Path.Combine(Path.GetTempPath(), $"decision-{Guid.NewGuid():N}.pdf");
        File.WriteAllBytes(path, pdf);
        try
        {
            return read(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Runs a poppler-utils tool (test.sh installs the package) and returns what it printed.</summary>
    private static string Run(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start (install poppler-utils).");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(30_000), $"{tool} did not finish");
        Assert.True(process.ExitCode == 0, $"{tool} exited {process.ExitCode}: {stderr.Result}");
        return stdout;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
