using System.Diagnostics;
using System.Text.RegularExpressions;
using AgentSpace.E2E.Agents;
using AgentSpace.E2E.Infrastructure;
using AgentSpace.Tests.Boardroom;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Tests.Knowledge;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Boardroom;

/// <summary>
/// A three-member session convened on the Boardroom page, once with Offline agents arguing from an uploaded
/// document and once through a model provider (the recording server, scripted per agent) whose turns stream in
/// slowly; each ends in a decision record that is opened, checked against the audit log and exported as
/// Markdown and as PDF.
/// </summary>
public sealed partial class BoardroomFlowTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    private const string Provider = "Recording";
    private const string Model = "scripted-small";
    private const string Question = "Should we move the depot's night shift to four days a week?";

    [Fact]
    public async Task OfflineSession_ThreeMembersArgueFromADocument_RecordSaysOfflineAndExportsBothFormats()
    {
        var shots = new Screenshots(output, nameof(OfflineSession_ThreeMembersArgueFromADocument_RecordSaysOfflineAndExportsBothFormats));
        var slug = "board-off-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Harbour Logistics", slug);
        var page = owner.Page;

        await UploadReadyPdfAsync(owner, slug, "night-shift-review.pdf",
            ["Night shift review", "Four longer night shifts a week cut handover errors by a third in the pilot depot."],
            ["Costs", "Overtime on the night shift cost 41,000 euros last quarter; the pilot halved it."]);
        var members = new List<Guid>();
        foreach (var (name, view) in new[] { ("Operations", "the depot's throughput"), ("People", "the staff's wellbeing"), ("Finance", "the cost") })
        {
            members.Add(await AgentSteps.CreateAgentAsync(owner, slug, name, $"Speaks for {view}.", $"Argue for {view}."));
        }
        await AgentSteps.CreateAgentAsync(owner, slug, "Chair", "Chairs the board.", "Sum up fairly and decide.");

        await ConveneAsync(owner, slug, members, "Chair (Offline)", rounds: 2, document: "night-shift-review.pdf", shots);
        await Expect(page.GetByTestId("session-status")).ToHaveTextAsync("Ended", new() { Timeout = 30_000 });
        // Two rounds of three members, each round summed up by the chair.
        await Expect(page.GetByTestId("turn").And(page.Locator("[data-kind=member]"))).ToHaveCountAsync(6);
        await Expect(page.GetByTestId("turn").And(page.Locator("[data-kind=synthesis]"))).ToHaveCountAsync(2);
        await Expect(page.GetByTestId("stop-reason")).ToHaveTextAsync("Maximum rounds reached");
        // The members quote the document's passages, numbered once for the whole session.
        await Expect(page.GetByTestId("source").First).ToContainTextAsync("night-shift-review.pdf");
        await Expect(page.GetByTestId("turn").First).ToContainTextAsync("handover errors");
        await shots.TakeAsync(page, "session-offline");

        await page.GetByTestId("open-decision").ClickAsync();
        await Expect(page).ToHaveURLAsync(DecisionPage());
        await Expect(page.GetByTestId("offline-banner")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("integrity")).ToHaveAttributeAsync("data-intact", "true");
        await Expect(page.GetByTestId("position")).ToHaveCountAsync(3);
        await Expect(page.GetByTestId("citations")).ToContainTextAsync("night-shift-review.pdf");
        var hash = (await page.GetByTestId("hash").InnerTextAsync()).Trim();
        Assert.Matches("^[0-9a-f]{64}$", hash);
        await shots.TakeAsync(page, "decision-offline");

        var markdown = await ExportAsync(page, "export-md", ".md");
        var text = await File.ReadAllTextAsync(markdown);
        Assert.Contains(Question, text, StringComparison.Ordinal);
        Assert.Contains("Produced offline", text, StringComparison.Ordinal);
        Assert.Contains(hash, text, StringComparison.Ordinal);
        var pdf = await ExportAsync(page, "export-pdf", ".pdf");
        var pdfText = await PdfToTextAsync(pdf);
        Assert.Contains("Operations", pdfText, StringComparison.Ordinal);
        Assert.Contains(hash, pdfText, StringComparison.Ordinal);
        Assert.Contains("four days a week", pdfText.ReplaceLineEndings(" "), StringComparison.Ordinal);

        // Both exports are in the organization's audit log with the record's hash.
        await owner.GotoAsync($"/o/{slug}/audit");
        var events = page.GetByRole(AriaRole.Table, new() { Name = "Audit events" });
        var exported = events.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Cell, new() { Name = "decision.exported", Exact = true }) });
        await Expect(exported).ToHaveCountAsync(2);
        await Expect(exported.First).ToContainTextAsync(hash[..12]);
    }

    [Fact]
    public async Task ProviderSession_TurnsStreamLive_ConsensusInRound2_RecordOpensIntactAndExportsBothFormats()
    {
        var shots = new Screenshots(output, nameof(ProviderSession_TurnsStreamLive_ConsensusInRound2_RecordOpensIntactAndExportsBothFormats));
        await using var server = await RecordingModelServer.StartAsync();
        var slug = "board-llm-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Harbour Logistics", slug);
        var page = owner.Page;
        var card = await AgentSteps.AddProviderAsync(owner, slug, Provider, server.BaseUrl, server.ApiKey, Model);
        await AgentSteps.SetPriceAsync(owner, card, Model, 3m, 15m);

        // Each agent's instructions carry a key that ends its line, so the server can answer per agent.
        var key = Guid.NewGuid().ToString("N")[..8];
        var members = new List<Guid>();
        foreach (var name in new[] { "Operations", "People", "Finance" })
        {
            members.Add(await AgentSteps.CreateAgentAsync(owner, slug, name, $"Speaks for {name.ToLowerInvariant()}.",
                $"Argue your side.\nkey: {key}-{name}\n", Provider));
        }
        await AgentSteps.CreateAgentAsync(owner, slug, "Chair", "Chairs the board.", $"Sum up fairly.\nkey: {key}-chair\n", Provider);

        server.RespondWith(r => BoardroomScript.KindOf(r) switch
        {
            BoardroomCall.Synthesis => ScriptedReply.Say(BoardroomScript.RoundOf(r) >= 2
                ? "Everyone now backs a four-day pilot.\nCONSENSUS: yes"
                : "Operations and Finance agree; People wants a pilot first.\nCONSENSUS: no"),
            BoardroomCall.Record => ScriptedReply.Say(BoardroomScript.RecordJson("Pilot four-day night shifts for one quarter.", "People", "Wants a staff survey first.")),
            _ when BoardroomScript.IsFor(r, key + "-People") && BoardroomScript.RoundOf(r) == 1 => Slow(
                "A pilot first, please: the crews have not been asked.\nPOSITION: undecided\nCONFIDENCE: 0.5"),
            _ => Slow("Four longer shifts cut handovers and overtime; I support the change.\nPOSITION: agree\nCONFIDENCE: 0.8"),
        });

        await ConveneAsync(owner, slug, members, "Chair", rounds: 3, document: null, shots);
        // A member's turn arrives in pieces while it is written: seen part-way, then finished.
        var live = page.GetByTestId("live-turn");
        await Expect(live).ToContainTextAsync("Four longer shifts", new() { Timeout = 15_000 });
        var partial = await live.InnerTextAsync();
        Assert.DoesNotContain("I support the change", partial, StringComparison.Ordinal);
        await Expect(page.GetByTestId("stop-button")).ToBeVisibleAsync();
        await shots.TakeAsync(page, "session-streaming");

        await Expect(page.GetByTestId("session-status")).ToHaveTextAsync("Ended", new() { Timeout = 60_000 });
        await Expect(page.GetByTestId("stop-reason")).ToHaveTextAsync("Consensus reached");
        await Expect(page.GetByTestId("turn").And(page.Locator("[data-kind=member]"))).ToHaveCountAsync(6);
        await Expect(page.GetByTestId("turn").And(page.Locator("[data-kind=synthesis][data-round='2']")).GetByTestId("consensus")).ToHaveTextAsync("Consensus");
        await Expect(page.GetByTestId("turn").First.GetByTestId("turn-usage")).ToContainTextAsync("900 in · 120 out");
        await shots.TakeAsync(page, "session-ended");
        // Rounds 1 and 2 of three members, two syntheses and the record; round 3 never ran.
        Assert.Equal(9, server.ChatRequests.Count);
        Assert.All(server.ChatRequests, r => Assert.Equal("Bearer " + server.ApiKey, r.Authorization));
        // Sealed mode: People's doubt from round 1 never reached another member's prompt.
        Assert.DoesNotContain(server.ChatRequests, r => BoardroomScript.KindOf(r) == BoardroomCall.Member
            && !BoardroomScript.IsFor(r, key + "-People") && r.PromptText.Contains("the crews have not been asked", StringComparison.Ordinal));

        await page.GetByTestId("open-decision").ClickAsync();
        await Expect(page).ToHaveURLAsync(DecisionPage());
        await Expect(page.GetByTestId("decision-text")).ToHaveTextAsync("Pilot four-day night shifts for one quarter.");
        await Expect(page.GetByTestId("offline-banner")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("integrity")).ToHaveAttributeAsync("data-intact", "true");
        await Expect(page.GetByTestId("dissent")).ToContainTextAsync("Wants a staff survey first.");
        await Expect(page.GetByTestId("action-item")).ToContainTextAsync("Sign the contract");
        await Expect(page.GetByTestId("cost")).ToHaveCountAsync(4);
        var hash = (await page.GetByTestId("hash").InnerTextAsync()).Trim();
        await shots.TakeAsync(page, "decision");

        var markdown = await File.ReadAllTextAsync(await ExportAsync(page, "export-md", ".md"));
        Assert.Contains("Pilot four-day night shifts for one quarter.", markdown, StringComparison.Ordinal);
        Assert.Contains(hash, markdown, StringComparison.Ordinal);
        var pdfText = await PdfToTextAsync(await ExportAsync(page, "export-pdf", ".pdf"));
        Assert.Contains("Pilot four-day night shifts for one quarter.", pdfText.ReplaceLineEndings(" "), StringComparison.Ordinal);
        Assert.Contains("Wants a staff survey first.", pdfText.ReplaceLineEndings(" "), StringComparison.Ordinal);

        // The Decisions list finds it by its text.
        await owner.GotoAsync($"/o/{slug}/decisions");
        await owner.FillAsync(page.Locator("#decisions-search"), "quarter");
        await Expect(page.GetByTestId("decision-row")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("decision-row")).ToContainTextAsync("Pilot four-day night shifts");
        await shots.TakeAsync(page, "decisions");
    }

    private static ScriptedReply Slow(string text) =>
        new() { Text = text, Chunks = 8, ChunkDelay = TimeSpan.FromMilliseconds(250), PromptTokens = 900, CompletionTokens = 120 };

    /// <summary>On the Boardroom page: fills in a new session, ticks the members in order, picks the chair and starts it. Ends on the session's page.</summary>
    private static async Task ConveneAsync(UserBrowser owner, string slug, IReadOnlyList<Guid> members, string chair, int rounds, string? document, Screenshots shots)
    {
        var page = owner.Page;
        await owner.GotoAsync($"/o/{slug}/boardroom");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Boardroom");
        await Expect(page.GetByText("No sessions yet.")).ToBeVisibleAsync();
        await owner.FillAsync(page.Locator("#session-question"), Question);
        await owner.FillAsync(page.Locator("#session-context"), "The night shift now works five eight-hour nights.");
        foreach (var member in members)
        {
            var seat = page.GetByTestId("session-members").Locator($"[data-agent='{member}']");
            await seat.Locator("label").ClickAsync();
            await Expect(seat.GetByRole(AriaRole.Checkbox)).ToBeCheckedAsync();
            await owner.WaitUntilIdleAsync();
        }
        await AgentSteps.PickAsync(owner, page.GetByRole(AriaRole.Combobox, new() { Name = "Chair", Exact = true }), chair);
        await owner.FillAsync(page.Locator("#session-rounds"), rounds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (document is not null)
        {
            await AgentSteps.PickAsync(owner, page.GetByLabel("Brief documents (optional)", new() { Exact = true }), document);
        }
        await shots.TakeAsync(page, "new-session");
        await page.GetByTestId("session-start").ClickAsync();
        await Expect(page).ToHaveURLAsync(SessionPage());
        await Expect(page.Locator("h1")).ToHaveTextAsync(Question);
    }

    private static async Task UploadReadyPdfAsync(UserBrowser owner, string slug, string name, params string[][] pages)
    {
        var page = owner.Page;
        await owner.GotoAsync($"/o/{slug}/knowledge");
        var folder = Directory.CreateTempSubdirectory("agentspace-e2e-upload-");
        try
        {
            var path = Path.Combine(folder.FullName, name);
            await File.WriteAllBytesAsync(path, TestFiles.Pdf(pages));
            await page.Locator("input[type=file]").SetInputFilesAsync(path);
            await Expect(page.GetByTestId("upload-results")).ToContainTextAsync($"{name} is queued for processing.");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
        var row = page.GetByRole(AriaRole.Table, new() { Name = "Documents" }).GetByRole(AriaRole.Row).Filter(new() { HasText = name });
        await Expect(row.GetByText("Ready", new() { Exact = true })).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    /// <summary>Presses an export button (a form post) and saves what the browser downloads; returns its path.</summary>
    private async Task<string> ExportAsync(IPage page, string button, string extension)
    {
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId(button).ClickAsync());
        Assert.EndsWith(extension, download.SuggestedFilename, StringComparison.Ordinal);
        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots", "exports")).FullName;
        var path = Path.Combine(folder, Guid.NewGuid().ToString("N")[..8] + "-" + download.SuggestedFilename);
        await download.SaveAsAsync(path);
        output.WriteLine($"export: {path} ({new FileInfo(path).Length} bytes)");
        return path;
    }

    private static async Task<string> PdfToTextAsync(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("pdftotext", [path, "-"]) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("pdftotext did not start.");
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return text;
    }

    [GeneratedRegex(@"/boardroom/[0-9a-f-]{36}$")]
    private static partial Regex SessionPage();

    [GeneratedRegex(@"/decisions/[0-9a-f-]{36}$")]
    private static partial Regex DecisionPage();
}
