using System.Text.RegularExpressions;
using AgentSpace.E2E.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Agents;

/// <summary>
/// An organization with no model provider at all: its owner creates an agent (Offline, the default), gives it a
/// memory on the agent's page, and chats with it. The answer is labelled Offline, quotes the memory with a
/// numbered citation, and says plainly when it has nothing to go on.
/// </summary>
public sealed partial class OfflineAgentChatTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    private const string SupportHours = "Our support line is open Monday to Friday from 8am to 6pm Berlin time.";
    private const string Invoices = "Invoices are sent on the first working day of each month.";

    [Fact]
    public async Task Chat_OfflineAgentWithMemories_QuotesMatchingMemoryWithCitationAndSaysWhenItFindsNothing()
    {
        var shots = new Screenshots(output, nameof(Chat_OfflineAgentWithMemories_QuotesMatchingMemoryWithCitationAndSaysWhenItFindsNothing));
        var slug = "offline-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Helpdesk Co", slug);
        var page = owner.Page;

        var agentId = await AgentSteps.CreateAgentAsync(owner, slug, "Helpdesk", "Answers questions about support and billing.",
            "Answer staff questions about our support desk.", shots: shots);
        await Expect(page.GetByText("No memories yet.")).ToBeVisibleAsync();
        await AgentSteps.AddMemoryAsync(owner, SupportHours);
        await AgentSteps.AddMemoryAsync(owner, Invoices);
        await shots.TakeAsync(page, "agent-with-memories");

        await owner.GotoAsync($"/o/{slug}/agents");
        var agents = page.GetByRole(AriaRole.Table, new() { Name = "Agents" });
        var row = agents.GetByRole(AriaRole.Row).Filter(new() { HasText = "Helpdesk" });
        await Expect(row.GetByRole(AriaRole.Cell, new() { Name = "Offline", Exact = true })).ToBeVisibleAsync();
        await shots.TakeAsync(page, "agents");

        await owner.GotoAsync($"/o/{slug}/chat");
        await Expect(page.GetByText("Offline", new() { Exact = true })).ToBeVisibleAsync();
        await shots.TakeAsync(page, "chat-home");
        await owner.GotoAsync($"/o/{slug}/chat/{agentId}");
        await Expect(page.GetByText("No conversations yet.")).ToBeVisibleAsync();

        var answer = await AgentSteps.AskAsync(owner, "When is the support line open?");
        await Expect(answer).ToHaveAttributeAsync("data-status", "complete");
        // Labelled Offline above the answer, and the answer says so itself.
        await Expect(answer.Locator(".mud-typography-caption").First).ToHaveTextAsync("Offline");
        await Expect(answer.Locator("strong").First).ToHaveTextAsync("Offline");
        // The matching memory is quoted with citation [1], the other one not at all; the source names the memory.
        var quote = answer.Locator("blockquote");
        await Expect(quote).ToHaveCountAsync(1);
        await Expect(quote).ToHaveTextAsync(SupportHours + " [1]");
        await Expect(answer.Locator("ol > li")).ToHaveTextAsync(new Regex("^memory: Our support line"));
        await Expect(answer).Not.ToContainTextAsync("Invoices");
        // Styled as a quotation and a numbered list inside the bubble (MudBlazor's reset strips both otherwise).
        await Expect(quote).ToHaveCSSAsync("border-left-style", "solid");
        await Expect(answer.Locator("ol")).ToHaveCSSAsync("padding-left", NonZeroPixels());
        // The new conversation has its own address and is listed, named after the question.
        await Expect(page).ToHaveURLAsync(new Regex(@"\?c=[0-9a-f-]{36}$"));
        await Expect(page.GetByRole(AriaRole.Listbox, new() { Name = "Conversations" })).ToContainTextAsync("When is the support line open?");
        await shots.TakeAsync(page, "chat-offline");

        var nothing = await AgentSteps.AskAsync(owner, "Who designed the company logo?");
        await Expect(nothing).ToHaveAttributeAsync("data-status", "complete");
        await Expect(nothing).ToContainTextAsync("I found nothing about that in this agent's memories or documents.");
        await Expect(nothing.Locator("blockquote")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-turn=assistant]")).ToHaveCountAsync(2);
        await shots.TakeAsync(page, "chat-offline-nothing-found");
    }

    [GeneratedRegex(@"^[1-9][0-9.]*px$")]
    private static partial Regex NonZeroPixels();
}
