using System.Diagnostics;
using System.Text.RegularExpressions;
using AgentSpace.E2E.Agents;
using AgentSpace.E2E.Infrastructure;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Chat;

/// <summary>
/// Chat through a real model provider: the recording server (OpenAI's protocol over loopback HTTP) added on
/// Settings → Models with a key and a price, an agent using it with the current_time tool, a tool loop
/// streamed into the chat, its audit entry, the spend on the Usage page, and Stop during an endless stream.
/// </summary>
public sealed partial class ProviderChatTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    private const string Provider = "Recording";
    private const string Model = "scripted-small";
    private const string ToolReason = "I need the current time to say how long it is until standup.";
    private const string Markdown =
        "Standup is at **9:30**. Before it:\n\n" +
        "- read the overnight alerts\n" +
        "- update your ticket\n\n" +
        "Post your status with:\n\n" +
        "```bash\nstandup post --status \"on track\"\n```\n\n" +
        "<img src=x onerror=\"window.__injected=1\"> stays text.";

    [Fact]
    public async Task Chat_ThroughRecordingProvider_StreamsMarkdownShowsToolStepAuditEntryAndSpend()
    {
        var shots = new Screenshots(output, nameof(Chat_ThroughRecordingProvider_StreamsMarkdownShowsToolStepAuditEntryAndSpend));
        await using var server = await RecordingModelServer.StartAsync();
        server.ApiKey = "sk-e2e-" + Guid.NewGuid().ToString("N");
        var slug = "models-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Standup Corp", slug);
        var page = owner.Page;

        // Settings → Models: the key is typed once; afterwards the page holds only its hint.
        var card = await AgentSteps.AddProviderAsync(owner, slug, Provider, server.BaseUrl, server.ApiKey, Model, shots);
        await Expect(card.GetByText($"API key: sk-…{server.ApiKey[^4..]}", new() { Exact = true })).ToBeVisibleAsync();
        Assert.DoesNotContain(server.ApiKey, await page.ContentAsync(), StringComparison.Ordinal);
        await AgentSteps.SetPriceAsync(owner, card, Model, 3m, 15m);
        await card.GetByRole(AriaRole.Button, new() { Name = "Test connection" }).ClickAsync();
        await Expect(card.GetByRole(AriaRole.Status)).ToHaveTextAsync($"Connected to {Provider}: it lists 2 models.");
        await shots.TakeAsync(page, "models");
        // A fresh load of the page (prerendered HTML, then the circuit) has no trace of the key either.
        await owner.GotoAsync($"/o/{slug}/settings/models");
        Assert.DoesNotContain(server.ApiKey, await page.ContentAsync(), StringComparison.Ordinal);

        var agentId = await AgentSteps.CreateAgentAsync(owner, slug, "Timekeeper", "Knows the team's rituals and the time.",
            "Help the team keep to its schedule. Use the clock when the time matters.", Provider, ["Current time", "Memory"], shots);
        await AgentSteps.AddMemoryAsync(owner, "Our standup is at 9:30 every weekday.");
        await owner.GotoAsync($"/o/{slug}/agents");
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = $"{Provider} · {Model}", Exact = true })).ToBeVisibleAsync();

        // The model first asks for the clock, with a stated reason; once it has the result it answers in Markdown, slowly.
        server.RespondWith(request => HasToolResult(request)
            ? new ScriptedReply { Text = Markdown, Chunks = 10, ChunkDelay = TimeSpan.FromMilliseconds(200), PromptTokens = 1500, CompletionTokens = 400 }
            : ScriptedReply.CallTool("current_time", "{}", ToolReason) with { PromptTokens = 1200, CompletionTokens = 30 });

        await owner.GotoAsync($"/o/{slug}/chat/{agentId}");
        await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        var answer = await AgentSteps.AskAsync(owner, "How long until standup?");
        await Expect(answer).ToHaveAttributeAsync("data-status", "streaming");
        await Expect(answer.Locator(".mud-typography-caption").First).ToHaveTextAsync(Provider);
        await Expect(answer).ToContainTextAsync("Standup is at");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToBeVisibleAsync();
        await shots.TakeAsync(page, "chat-streaming");

        await Expect(answer).ToHaveAttributeAsync("data-status", "complete");
        await Expect(answer.Locator(".mud-typography-caption").First).ToHaveTextAsync(Provider);

        // The tool step: collapsed to its summary, its stated reason and result inside.
        var step = answer.Locator("details.app-tool-step[data-tool=current_time]");
        await Expect(step).ToHaveCountAsync(1);
        await Expect(step.Locator("summary")).ToHaveTextAsync(ToolStepSummary());
        var reason = step.GetByText($"Reason: {ToolReason}");
        await Expect(reason).ToBeHiddenAsync();
        await step.Locator("summary").ClickAsync();
        await Expect(reason).ToBeVisibleAsync();
        await Expect(step).ToContainTextAsync(ToolResult());

        // Markdown rendered: bold, a list, a code block with a copy button; raw HTML shown as text, never run.
        var markdown = answer.Locator(".app-markdown");
        await Expect(markdown.Locator("strong")).ToHaveTextAsync("9:30");
        await Expect(markdown.Locator("ul > li")).ToHaveTextAsync(["read the overnight alerts", "update your ticket"]);
        var code = markdown.Locator(".app-code-block pre code");
        await Expect(code).ToHaveTextAsync("standup post --status \"on track\"");
        await Expect(code).ToHaveClassAsync("language-bash");
        await Expect(markdown.Locator("ul")).ToHaveCSSAsync("padding-left", NonZeroPixels());
        await Expect(markdown.Locator(".app-code-block pre")).ToHaveCSSAsync("overflow-x", "auto");
        await Expect(markdown.Locator("img")).ToHaveCountAsync(0);
        await Expect(markdown).ToContainTextAsync("<img src=x onerror=\"window.__injected=1\"> stays text.");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__injected === undefined"));
        await answer.GetByRole(AriaRole.Button, new() { Name = "Copy code" }).ClickAsync();
        // The copy goes through the circuit to the browser: wait for it to reach the clipboard.
        var copied = "";
        for (var i = 0; i < 50 && copied.Length == 0; i++)
        {
            copied = await page.EvaluateAsync<string>("() => navigator.clipboard.readText()");
            if (copied.Length == 0)
            {
                await Task.Delay(100);
            }
        }
        Assert.Equal("standup post --status \"on track\"", copied);
        await shots.TakeAsync(page, "chat-tool-step");

        // What the provider received: two calls with the key, the second carrying the tool's result.
        Assert.Equal(2, server.ChatRequests.Count);
        Assert.All(server.ChatRequests, r => Assert.Equal("Bearer " + server.ApiKey, r.Authorization));
        Assert.True(HasToolResult(server.ChatRequests[1]));

        // The organization's audit log names the tool call with its stated reason.
        await owner.GotoAsync($"/o/{slug}/audit");
        var events = page.GetByRole(AriaRole.Table, new() { Name = "Audit events" });
        var toolRow = events.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Cell, new() { Name = "tool.called", Exact = true }) });
        await Expect(toolRow).ToHaveCountAsync(1);
        await Expect(toolRow).ToContainTextAsync("current_time");
        await Expect(toolRow).ToContainTextAsync($"reason: {ToolReason}");
        await Expect(toolRow).ToContainTextAsync("outcome: success");
        await shots.TakeAsync(page, "audit-tool-called");

        // Usage: two calls at $3 / $15 per million tokens: (1200 + 1500) × 3 + (30 + 400) × 15 = 14,550 µ$.
        await owner.GotoAsync($"/o/{slug}/usage");
        var chart = page.GetByTestId("usage-chart");
        await Expect(chart.Locator("svg").First).ToBeVisibleAsync();
        await Expect(chart).ToContainTextAsync("Timekeeper");
        // The day's bar stands tall against an axis in cents (it used to be a sliver on the default 0–20 dollar axis).
        await Expect(chart.Locator(".mud-charts-yaxis")).ToContainTextAsync("$0.01");
        var bars = await chart.Locator(".mud-tab-panel-active path.mud-chart-bar").EvaluateAllAsync<double[]>("paths => paths.map(p => p.getBBox().height)");
        var plotHeight = await chart.Locator(".mud-tab-panel-active .mud-charts-gridlines-yaxis").EvaluateAsync<double>("g => g.getBBox().height");
        output.WriteLine($"tallest bar {bars.Max():F1} of {plotHeight:F1}");
        Assert.True(bars.Max() > plotHeight / 2, $"The spend bar is {bars.Max():F1} high in a plot {plotHeight:F1} high.");
        await Expect(page.GetByTestId("org-month")).ToContainTextAsync("$0.0146");
        var budgets = page.GetByRole(AriaRole.Table, new() { Name = "Agent budgets" });
        var agentRow = budgets.GetByRole(AriaRole.Row).Filter(new() { HasText = "Timekeeper" });
        await Expect(agentRow.GetByRole(AriaRole.Cell, new() { Name = "$0.0146", Exact = true })).ToBeVisibleAsync();
        var top = page.GetByRole(AriaRole.Table, new() { Name = "Top conversations by cost" });
        await Expect(top.GetByRole(AriaRole.Row).Filter(new() { HasText = "How long until standup?" })).ToContainTextAsync("$0.0146");
        await shots.TakeAsync(page, "usage");
    }

    [Fact]
    public async Task Stop_WhileProviderStreamsEndlessly_KeepsTextSoFarAndShowsStopped()
    {
        var shots = new Screenshots(output, nameof(Stop_WhileProviderStreamsEndlessly_KeepsTextSoFarAndShowsStopped));
        await using var server = await RecordingModelServer.StartAsync();
        server.DefaultReply = new ScriptedReply { Text = "Counting sheep: one, two, three, four. ", Chunks = 8, ChunkDelay = TimeSpan.FromMilliseconds(100), Endless = true };
        var slug = "stop-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Sleepy Inc", slug);
        var page = owner.Page;
        await AgentSteps.AddProviderAsync(owner, slug, Provider, server.BaseUrl, server.ApiKey, Model);
        var agentId = await AgentSteps.CreateAgentAsync(owner, slug, "Shepherd", "Counts sheep.", "Count sheep until told to stop.", Provider);

        await owner.GotoAsync($"/o/{slug}/chat/{agentId}");
        var answer = await AgentSteps.AskAsync(owner, "Count sheep for me.");
        // At least one whole round has arrived, and the stream is still going.
        await Expect(answer).ToContainTextAsync("four. Counting sheep");
        await Expect(answer).ToHaveAttributeAsync("data-status", "streaming");
        Assert.Equal(1, server.OpenStreams);
        await shots.TakeAsync(page, "streaming");

        var clock = Stopwatch.StartNew();
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
        await Expect(answer).ToHaveAttributeAsync("data-status", "stopped", new() { Timeout = 3_000 });
        output.WriteLine($"stopped after {clock.ElapsedMilliseconds} ms");
        await Expect(answer.GetByText("Stopped", new() { Exact = true })).ToBeVisibleAsync();
        await Expect(answer).ToContainTextAsync("Counting sheep: one, two, three, four. Counting sheep");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Send" })).ToBeVisibleAsync();
        // The provider's stream was closed by the app, not left running.
        await WaitUntilAsync(() => server.OpenStreams == 0 && server.LastClientAbortAt is not null, TimeSpan.FromSeconds(3));
        await shots.TakeAsync(page, "stopped");

        // A reload shows the same stopped turn with the text it had.
        var kept = (await answer.Locator(".app-markdown").InnerTextAsync()).Trim();
        await owner.GotoAsync(new Uri(page.Url).PathAndQuery);
        var reloaded = page.Locator("[data-turn=assistant]").Last;
        await Expect(reloaded).ToHaveAttributeAsync("data-status", "stopped");
        Assert.Equal(kept, (await reloaded.Locator(".app-markdown").InnerTextAsync()).Trim());
        Assert.Single(server.ChatRequests);
    }

    private static bool HasToolResult(RecordedRequest request) =>
        request.Json?["messages"]?.AsArray().Any(m => m?["role"]?.GetValue<string>() == "tool") == true;

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not true within {timeout.TotalSeconds:F0} s.");
            await Task.Delay(50);
        }
    }

    [GeneratedRegex(@"^[1-9][0-9.]*px$")]
    private static partial Regex NonZeroPixels();

    [GeneratedRegex(@"^Tool current_time · success · \d+ ms$")]
    private static partial Regex ToolStepSummary();

    // The clock's answer: an ISO 8601 UTC time.
    [GeneratedRegex(@"Result \(20 characters\): \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")]
    private static partial Regex ToolResult();
}
