using System.Text.RegularExpressions;
using AgentSpace.E2E.Agents;
using AgentSpace.E2E.Infrastructure;
using AgentSpace.Tests.Knowledge;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Knowledge;

/// <summary>
/// An owner uploads a PDF and a DOCX on the Knowledge page, watches them become ready, attaches them to an agent,
/// asks the agent a question answered from them, and opens the citation's source passage in the side panel.
/// </summary>
public sealed class KnowledgeFlowTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    [Fact]
    public async Task UploadPdfAndDocx_AttachToAgent_AnswerCitesThePassage_SourceOpensInThePanel()
    {
        var shots = new Screenshots(output, nameof(UploadPdfAndDocx_AttachToAgent_AnswerCitesThePassage_SourceOpensInThePanel));
        var slug = "kb-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Harbour Logistics", slug);
        var page = owner.Page;
        var agentId = await AgentSteps.CreateAgentAsync(owner, slug, "Dispatcher", "Answers questions about the depot.",
            "Answer staff questions from the depot documents.");

        await owner.GotoAsync($"/o/{slug}/knowledge");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Knowledge");
        await Expect(page.GetByText("No documents yet.")).ToBeVisibleAsync();
        var folder = Directory.CreateTempSubdirectory("agentspace-e2e-upload-");
        try
        {
            var pdf = Path.Combine(folder.FullName, "depot-safety.pdf");
            await File.WriteAllBytesAsync(pdf, TestFiles.Pdf(
                ["Depot safety rules", "Forklifts must not exceed 8 km/h inside the loading hall.", "High-visibility vests are required in every aisle."],
                ["Night shift", "The night shift supervisor checks the fire doors at 23:00 every evening."]));
            var docx = Path.Combine(folder.FullName, "returns-process.docx");
            await File.WriteAllBytesAsync(docx, TestFiles.Docx(
                ("Heading1", "Returns"),
                (null, "Damaged pallets are returned to gate 4 and logged in the returns register within two hours."),
                ("Heading1", "Refunds"),
                (null, "Customers receive refunds within ten working days after the inspection.")));
            await page.Locator("input[type=file]").SetInputFilesAsync([pdf, docx]);
            var results = page.GetByTestId("upload-results");
            await Expect(results).ToContainTextAsync("depot-safety.pdf is queued for processing.");
            await Expect(results).ToContainTextAsync("returns-process.docx is queued for processing.");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
        var documents = page.GetByRole(AriaRole.Table, new() { Name = "Documents" });
        var pdfRow = documents.GetByRole(AriaRole.Row).Filter(new() { HasText = "depot-safety.pdf" });
        var docxRow = documents.GetByRole(AriaRole.Row).Filter(new() { HasText = "returns-process.docx" });
        await Expect(pdfRow.GetByText("Ready", new() { Exact = true })).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(docxRow.GetByText("Ready", new() { Exact = true })).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(pdfRow).ToContainTextAsync("Pdf");
        await Expect(docxRow).ToContainTextAsync("Docx");
        await shots.TakeAsync(page, "knowledge-ready");

        foreach (var name in new[] { "depot-safety.pdf", "returns-process.docx" })
        {
            await page.GetByRole(AriaRole.Button, new() { Name = $"Attach {name} to agents" }).ClickAsync();
            var dialog = page.GetByRole(AriaRole.Dialog);
            await dialog.GetByText("Dispatcher").ClickAsync();
            await Expect(dialog.GetByRole(AriaRole.Checkbox, new() { Name = "Dispatcher" })).ToBeCheckedAsync();
            if (name == "returns-process.docx")
            {
                await shots.TakeAsync(page, "knowledge-attach");
            }
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
            await Expect(documents.GetByRole(AriaRole.Row).Filter(new() { HasText = name })).ToContainTextAsync("Dispatcher");
        }

        // The search playground shows both scores.
        await owner.FillAsync(page.GetByLabel("Query"), "damaged pallets gate");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
        var hits = page.GetByRole(AriaRole.Table, new() { Name = "Search results" });
        await Expect(hits.GetByRole(AriaRole.Row).Nth(1)).ToContainTextAsync("returns-process.docx");
        await shots.TakeAsync(page, "knowledge-search");

        await owner.GotoAsync($"/o/{slug}/chat/{agentId}");
        var answer = await AgentSteps.AskAsync(owner, "Where are damaged pallets returned?");
        await Expect(answer).ToHaveAttributeAsync("data-status", "complete");
        await Expect(answer.Locator("blockquote").First).ToContainTextAsync("gate 4");
        var source = answer.GetByTestId("sources").GetByRole(AriaRole.Button, new() { NameRegex = new Regex("returns-process\\.docx") });
        await Expect(source).ToBeVisibleAsync();
        await source.ClickAsync();
        var panel = page.GetByTestId("source-text");
        await Expect(panel).ToContainTextAsync("Damaged pallets are returned to gate 4");
        // The panel slides in; the picture is taken once it has.
        await page.WaitForTimeoutAsync(600);
        await shots.TakeAsync(page, "chat-citation-panel");

        await page.GetByRole(AriaRole.Button, new() { Name = "Close the source" }).ClickAsync();
        var night = await AgentSteps.AskAsync(owner, "When does the night shift supervisor check the fire doors?");
        await Expect(night).ToHaveAttributeAsync("data-status", "complete");
        await Expect(night.Locator("blockquote").Filter(new() { HasText = "23:00" })).ToHaveCountAsync(1);
        await Expect(night.GetByTestId("sources")).ToContainTextAsync("depot-safety.pdf · page 2");
    }
}
