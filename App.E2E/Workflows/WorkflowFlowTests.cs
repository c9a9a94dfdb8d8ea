using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AgentSpace.E2E.Agents;
using AgentSpace.E2E.Infrastructure;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Workflows;

/// <summary>
/// A two-step workflow (a condition on the webhook's body, then an email to the members) built on the Workflows pages,
/// scheduled every minute and watched on its Runs page until the scheduler has run it twice; then an Admin enables its
/// webhook, copies the secret shown once, and a signed call over real HTTP starts a third run.
/// </summary>
public sealed partial class WorkflowFlowTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    [Fact]
    public async Task ScheduledEveryMinute_TwoScheduledRunsAppear_ThenASignedWebhookCallStartsOne()
    {
        var shots = new Screenshots(output, nameof(ScheduledEveryMinute_TwoScheduledRunsAppear_ThenASignedWebhookCallStartsOne));
        var slug = "flow-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Harbour Logistics", slug);
        var page = owner.Page;
        await owner.GotoAsync($"/o/{slug}/workflows");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Workflows");
        await Expect(page.GetByText("No workflows yet.")).ToBeVisibleAsync();
        await page.GetByTestId("new-workflow").ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync("New workflow");
        await owner.WaitUntilIdleAsync();

        await owner.FillAsync(page.Locator("#workflow-name"), "Morning digest");
        await owner.FillAsync(page.Locator("#workflow-description"), "Checks the night's note, then emails the digest.");
        // Step 1: stop when the webhook's body says "skip"; scheduled runs have no body and go on.
        var first = page.GetByTestId("step").Nth(0);
        await owner.FillAsync(page.Locator("#step-0-name"), "check");
        await AgentSteps.PickAsync(owner, first.GetByLabel("What it does", new() { Exact = true }), "Condition");
        await owner.FillAsync(page.Locator("#step-0-text"), "{{input}}");
        await owner.FillAsync(page.Locator("#step-0-pattern"), "skip");
        // Step 2: email the members what step 1 said and what the webhook sent.
        await page.GetByTestId("add-step").ClickAsync();
        var second = page.GetByTestId("step").Nth(1);
        await Expect(second).ToBeVisibleAsync();
        await owner.FillAsync(page.Locator("#step-1-name"), "notify");
        await AgentSteps.PickAsync(owner, second.GetByLabel("What it does", new() { Exact = true }), "Email to members");
        await owner.FillAsync(page.Locator("#step-1-subject"), "Morning digest");
        await owner.FillAsync(page.Locator("#step-1-text"), "Night check: {{check}}. Note: {{input}}");

        await owner.FillAsync(page.Locator("#workflow-cron"), "* * * * *");
        await Expect(page.GetByTestId("fire-time")).ToHaveCountAsync(5);
        await page.GetByText("Schedule off", new() { Exact = true }).ClickAsync();
        await Expect(page.GetByText("Runs on this schedule", new() { Exact = true })).ToBeVisibleAsync();
        await owner.WaitUntilIdleAsync();
        await shots.TakeAsync(page, "workflow-editor");
        await SaveForDocsAsync(page, "workflow-editor.png");

        await page.GetByTestId("save-workflow").ClickAsync();
        await Expect(page).ToHaveURLAsync(EditorPage());
        await Expect(page.Locator("h1")).ToHaveTextAsync("Morning digest");
        var workflowId = EditorPage().Match(page.Url).Groups["id"].Value;

        // The scheduler fires every minute: two scheduled runs appear on the Runs page as they happen, and succeed.
        await page.GetByTestId("workflow-runs").ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync("Runs of Morning digest");
        var scheduled = page.Locator("[data-testid=run-row][data-trigger=schedule][data-status=succeeded]");
        await Expect(scheduled).ToHaveCountAsync(2, new() { Timeout = 150_000 });
        await Expect(scheduled.First).ToContainTextAsync("Schedule");

        // An Admin (the owner) enables the webhook and reads the secret shown this once.
        await owner.GotoAsync($"/o/{slug}/workflows/{workflowId}");
        await page.GetByTestId("webhook-enable").ClickAsync();
        await Expect(page.GetByTestId("webhook-secret-once")).ToContainTextAsync("it will not be shown again");
        var secret = await page.Locator("#webhook-secret").InputValueAsync();
        var url = await page.Locator("#webhook-url-once").InputValueAsync();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.StartsWith(new Uri(app.BaseUrl, $"/hooks/{slug}/").ToString(), url, StringComparison.Ordinal);
        await Expect(page.GetByTestId("webhook-url")).ToHaveTextAsync(url);
        await page.GetByTestId("webhook-secret-done").ClickAsync();
        await Expect(page.GetByTestId("webhook-secret-once")).ToHaveCountAsync(0);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);

        // A sender signs its call: HMAC-SHA256 with the secret over the timestamp, a dot and the body.
        var body = Encoding.UTF8.GetBytes("{\"event\":\"night shift closed\",\"note\":\"all quiet\"}");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var http = app.App.NewHttpClient();
        using var unsigned = await http.PostAsync(url, new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add(WebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(WebhookSignature.SecretBytes(secret), timestamp, body));
        request.Headers.Add(WebhookSignature.IdempotencyHeader, "delivery-" + Guid.NewGuid().ToString("N"));
        using var accepted = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var answer = await accepted.Content.ReadAsStringAsync();
        Assert.Contains("\"status\":\"queued\"", answer, StringComparison.Ordinal);
        var runId = RunIdInAnswer().Match(answer).Groups["id"].Value;

        // The webhook's run appears on the Runs page beside the scheduled ones, and its page shows the body and each step.
        await owner.GotoAsync($"/o/{slug}/workflows/{workflowId}/runs");
        var webhookRun = page.Locator($"[data-testid=run-row][data-run='{runId}']");
        await Expect(webhookRun).ToHaveAttributeAsync("data-trigger", "webhook");
        await Expect(webhookRun).ToHaveAttributeAsync("data-status", "succeeded", new() { Timeout = 30_000 });
        await Expect(webhookRun).ToContainTextAsync("Webhook");
        await shots.TakeAsync(page, "workflow-runs");
        await SaveForDocsAsync(page, "workflow-runs.png");

        await webhookRun.GetByRole(AriaRole.Link).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/workflows/runs/{runId}$"));
        await Expect(page.GetByTestId("run-status")).ToHaveTextAsync("Succeeded");
        await Expect(page.GetByTestId("run-input")).ToContainTextAsync("night shift closed");
        await Expect(page.GetByTestId("run-step")).ToHaveCountAsync(2);
        await Expect(page.GetByTestId("run-step").Nth(0)).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(page.GetByTestId("run-step").Nth(0).GetByTestId("step-output")).ToContainTextAsync("not matched");
        await Expect(page.GetByTestId("run-step").Nth(1)).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(page.GetByTestId("run-step").Nth(1).GetByTestId("step-output")).ToHaveTextAsync("Emailed 1 member.");
        await Expect(page.GetByTestId("rerun")).ToBeVisibleAsync();
        await shots.TakeAsync(page, "webhook-run");

        // Each run emailed the owner; the newest carries the webhook's body.
        var mail = await app.Mailbox.WaitForAsync(owner.Email, "Morning digest");
        Assert.Contains("Night check: not matched; the run goes on. Note: {\"event\":\"night shift closed\",\"note\":\"all quiet\"}", mail.Text, StringComparison.Ordinal);
    }

    /// <summary>Also keeps the screenshot under docs/screenshots for the README.</summary>
    private static async Task SaveForDocsAsync(IPage page, string name)
    {
        var path = Path.Combine(TestDatabase.RepoRoot(), "docs", "screenshots", name);
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
    }

    [GeneratedRegex(@"/workflows/(?<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")]
    private static partial Regex EditorPage();

    [GeneratedRegex("\"run\":\"(?<id>[0-9a-f-]{36})\"")]
    private static partial Regex RunIdInAnswer();
}
