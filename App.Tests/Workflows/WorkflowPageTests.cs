using System.Globalization;
using System.Text;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Chat;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using AgentSpace.Workflows.Pages;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace AgentSpace.Tests.Workflows;

/// <summary>The workflow, editor, runs and run pages as Members, Viewers and Admins see them, over runs made by the fixture's scheduler.</summary>
public sealed class WorkflowPageTests(WorkflowFixture data) : PageTestBase(data), IClassFixture<WorkflowFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    /// <summary>Signs in with the recording server behind provider agents; runs the page queues are run by the fixture's scheduler node, and Cancel reaches its runs in flight.</summary>
    private void SignIn(Actor actor)
    {
        SignInAs(actor);
        ChatFixture.AddTestModels(Services, () => data.Server, null);
        Services.AddSingleton(data.Services.GetRequiredService<WorkflowScheduler>());
        Services.AddSingleton(data.Services.GetRequiredService<WorkflowLiveRuns>());
    }

    private static IReadOnlyList<WorkflowStep> FactsThenCheck =>
    [
        new WorkflowStep { Name = "facts", Kind = StepKinds.Knowledge, Text = "holiday policy" },
        new WorkflowStep { Name = "check", Kind = StepKinds.Condition, Text = "{{facts}}", Pattern = "carry over", OnMatch = ConditionActions.Continue },
    ];

    private Task<Guid> SaveAsync(TestOrg org, string name, IReadOnlyList<WorkflowStep> steps) =>
        data.Workflows.SaveAsync(org.Owner, org.Org.Slug, null, new WorkflowInput(name, null, steps, null, null, false), default);

    private IRenderedComponent<WorkflowEditor> Editor(TestOrg org, Guid? workflowId) =>
        Render<WorkflowEditor>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.WorkflowId, workflowId));

    /// <summary>What an input or text area holds as rendered.</summary>
    private static string? ValueOf(IRenderedComponent<WorkflowEditor> cut, string selector) =>
        cut.Find(selector) is var element && element.TagName == "TEXTAREA" && element.GetAttribute("value") is null ? element.TextContent : element.GetAttribute("value");

    private static string ControlText(IRenderedComponent<WorkflowEditor> cut, string inputSelector) =>
        cut.Find(inputSelector).Closest(".mud-input-control")!.TextContent;

    [Fact]
    public async Task List_NoWorkflows_ShowsTheEmptyStateAndNewWorkflowToAMember()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        SignIn(org.Member);

        var cut = Render<WorkflowsIndex>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("No workflows yet.", cut.Find("[data-testid='workflows-empty']").TextContent, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("[data-testid='workflow-row']"));
        Assert.Equal($"/o/{org.Org.Slug}/workflows/new", cut.Find("[data-testid='new-workflow']").GetAttribute("href"));
    }

    [Fact]
    public async Task List_AsViewer_ShowsTheWorkflowWithItsScheduleButNoNewWorkflow()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await data.Workflows.SaveAsync(org.Owner, org.Org.Slug, null,
            new WorkflowInput("Holiday digest", null, FactsThenCheck, "0 9 * * 1-5", "Europe/Lisbon", true), default);
        SignIn(org.Member);

        var cut = Render<WorkflowsIndex>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid='workflow-row']")), Wait);
        var row = cut.Find("[data-testid='workflow-row']");
        Assert.Contains("Holiday digest", row.TextContent, StringComparison.Ordinal);
        Assert.Contains("0 9 * * 1-5", row.QuerySelector("[data-testid='workflow-schedule']")!.TextContent, StringComparison.Ordinal);
        Assert.Contains("Europe/Lisbon", row.QuerySelector("[data-testid='workflow-schedule']")!.TextContent, StringComparison.Ordinal);
        Assert.Equal("Off", row.QuerySelector("[data-testid='workflow-webhook']")!.TextContent.Trim());
        Assert.Contains(org.Owner.Email, row.TextContent, StringComparison.Ordinal);
        Assert.Contains("Never run", row.TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid='new-workflow']"));
        Assert.DoesNotContain("New workflow", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editor_EveryFiveMinutes_ShowsTheNextFiveFireTimesFiveMinutesApart()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        SignIn(org.Member);
        var cut = Editor(org, null);
        cut.WaitForAssertion(() => cut.Find("#workflow-cron"), Wait);
        var before = DateTimeOffset.UtcNow;

        cut.Find("#workflow-cron").Input("*/5 * * * *");

        cut.WaitForAssertion(() => Assert.Equal(5, cut.FindAll("[data-testid='fire-time']").Count), Wait);
        var times = cut.FindAll("[data-testid='fire-time']")
            .Select(li => DateTimeOffset.Parse(li.GetAttribute("data-utc")!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal)).ToList();
        Assert.True(times[0] > before && times[0] <= before.AddMinutes(5).AddSeconds(5), $"first fire time {times[0]:o} after {before:o}");
        Assert.All(times, t => Assert.Equal((0, 0), (t.Minute % 5, t.Second)));
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.Equal(TimeSpan.FromMinutes(5), pair.Second - pair.First));
        Assert.Contains(times[0].UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture), cut.Find("[data-testid='fire-times']").TextContent,
            StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid='cron-error']"));
    }

    [Fact]
    public async Task Editor_BadCron_ShowsWhyByTheFieldAndNoFireTimes()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        SignIn(org.Member);
        var cut = Editor(org, null);
        cut.WaitForAssertion(() => cut.Find("#workflow-cron"), Wait);
        cut.Find("#workflow-cron").Input("*/5 * * * *");
        cut.WaitForAssertion(() => Assert.Equal(5, cut.FindAll("[data-testid='fire-time']").Count), Wait);

        cut.Find("#workflow-cron").Input("*/5 * * *");

        cut.WaitForAssertion(() => Assert.Contains("Use the standard five fields", cut.Find("[data-testid='cron-error']").TextContent, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("[data-testid='fire-time']"));
        Assert.Contains("Use the standard five fields", ControlText(cut, "#workflow-cron"), StringComparison.Ordinal);

        cut.Find("#workflow-cron").Input("0 9 * * 1-5");
        cut.Find("#workflow-zone").Input("Mars/Olympus_Mons");

        cut.WaitForAssertion(() => Assert.Contains("\"Mars/Olympus_Mons\" is not a time zone", cut.Find("[data-testid='cron-error']").TextContent, StringComparison.Ordinal), Wait);
        Assert.Contains("is not a time zone", ControlText(cut, "#workflow-zone"), StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid='fire-time']"));
    }

    [Fact]
    public async Task Editor_SaveWithAnUnknownTemplateName_ShowsTheProblemOnThatStepAndKeepsTheInput()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await SaveAsync(org, "Holiday digest", FactsThenCheck);
        SignIn(org.Member);
        var cut = Editor(org, id);
        cut.WaitForAssertion(() => Assert.Equal("{{facts}}", ValueOf(cut, "#step-1-text")), Wait);

        cut.Find("#workflow-name").Input("Holiday digest, weekly");
        cut.Find("#step-1-text").Input("Look in {{nosuch}}");
        cut.Find("[data-testid='save-workflow']").Closest("form")!.Submit();

        cut.WaitForAssertion(() => Assert.Contains("Step 2: {{nosuch}} is not the name of an earlier step (use one of: {{input}}, {{facts}}).", ControlText(cut, "#step-1-text"),
            StringComparison.Ordinal), Wait);
        // Only the step it is about carries it; the form keeps what was typed.
        Assert.DoesNotContain("{{nosuch}} is not", ControlText(cut, "#step-0-text"), StringComparison.Ordinal);
        Assert.Contains("{{nosuch}}", cut.Find("[data-testid='workflow-error']").TextContent, StringComparison.Ordinal);
        Assert.Equal("Holiday digest, weekly", cut.Find("#workflow-name").GetAttribute("value"));
        Assert.Equal("Look in {{nosuch}}", ValueOf(cut, "#step-1-text"));
        var stored = await data.Workflows.GetAsync(org.Owner, org.Org.Slug, id, default);
        Assert.Equal("Holiday digest", stored.Workflow.Name);
        Assert.Equal(1, stored.Workflow.Version);
        Assert.Equal("{{facts}}", stored.Steps[1].Text);

        // Fixing it saves what was typed.
        cut.Find("#step-1-text").Input("Look in {{facts}}");
        cut.Find("[data-testid='save-workflow']").Closest("form")!.Submit();

        await WaitForAsync(async () => (await data.Workflows.GetAsync(org.Owner, org.Org.Slug, id, default)).Workflow.Version == 2);
        var saved = await data.Workflows.GetAsync(org.Owner, org.Org.Slug, id, default);
        Assert.Equal("Holiday digest, weekly", saved.Workflow.Name);
        Assert.Equal("Look in {{facts}}", saved.Steps[1].Text);
    }

    [Fact]
    public async Task Editor_SavedMeanwhileBySomeoneElse_SaysSoAndKeepsTheInput()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await SaveAsync(org, "Holiday digest", FactsThenCheck);
        SignIn(org.Member);
        var cut = Editor(org, id);
        cut.WaitForAssertion(() => cut.Find("[data-testid='save-workflow']"), Wait);
        await data.Workflows.SaveAsync(org.Owner, org.Org.Slug, id, new WorkflowInput("Owner's name", null, FactsThenCheck, null, null, false, Version: 1), default);

        cut.Find("#workflow-name").Input("Member's name");
        cut.Find("[data-testid='save-workflow']").Closest("form")!.Submit();

        cut.WaitForAssertion(() => Assert.Contains("Someone saved this workflow after you opened it", cut.Find("[data-testid='workflow-error']").TextContent,
            StringComparison.Ordinal), Wait);
        Assert.NotNull(cut.Find("[data-testid='reload-workflow']"));
        Assert.Equal("Member's name", cut.Find("#workflow-name").GetAttribute("value"));
        Assert.Equal("Owner's name", (await data.Workflows.GetAsync(org.Owner, org.Org.Slug, id, default)).Workflow.Name);
    }

    [Fact]
    public async Task Editor_AsViewer_ShowsTheWorkflowReadOnlyWithNoSaveRunOrDelete()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        var id = await SaveAsync(org, "Holiday digest", FactsThenCheck);
        SignIn(org.Member);

        var cut = Editor(org, id);

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid='read-only']")), Wait);
        Assert.Equal("Holiday digest", cut.Find("#workflow-name").GetAttribute("value"));
        Assert.True(cut.Find("#workflow-name").HasAttribute("readonly"));
        Assert.Equal(2, cut.FindAll("[data-testid='step']").Count);
        foreach (var button in new[] { "save-workflow", "run-now", "delete-workflow", "add-step", "step-remove", "step-up", "webhook", "hosts" })
        {
            Assert.Empty(cut.FindAll($"[data-testid='{button}']"));
        }
        Assert.NotNull(cut.Find("[data-testid='workflow-runs']"));
    }

    [Fact]
    public async Task Editor_AsMember_OffersRunNowButNotTheAdminSection()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await SaveAsync(org, "Holiday digest", FactsThenCheck);
        SignIn(org.Member);

        var cut = Editor(org, id);

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid='run-now']")), Wait);
        Assert.NotNull(cut.Find("[data-testid='save-workflow']"));
        Assert.Empty(cut.FindAll("[data-testid='webhook']"));
        Assert.Empty(cut.FindAll("[data-testid='webhook-enable']"));
        Assert.Empty(cut.FindAll("[data-testid='hosts']"));
        Assert.DoesNotContain("HTTP allow-list", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editor_AdminEnablesTheWebhook_TheWorkingSecretIsShownOnceOnly()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.Workflows.SaveAsync(org.Owner, org.Org.Slug, null, new WorkflowInput("On push", null,
            [new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "{{input}}", Pattern = "main", OnMatch = ConditionActions.Continue }], null, null, false), default);
        SignIn(org.Member);
        var cut = Editor(org, id);
        cut.WaitForAssertion(() => cut.Find("[data-testid='webhook-enable']"), Wait);
        Assert.NotNull(cut.Find("[data-testid='hosts']"));

        await cut.InvokeAsync(() => cut.Find("[data-testid='webhook-enable']").Click());

        cut.WaitForAssertion(() => Assert.StartsWith("whsec_", cut.Find("#webhook-secret").GetAttribute("value"), StringComparison.Ordinal), Wait);
        var secret = cut.Find("#webhook-secret").GetAttribute("value")!;
        var url = cut.Find("#webhook-url-once").GetAttribute("value")!;
        Assert.Contains("will not be shown again", cut.Find("[data-testid='webhook-secret-once']").TextContent, StringComparison.Ordinal);
        Assert.StartsWith($"https://agentspace.test/hooks/{org.Org.Slug}/", url, StringComparison.Ordinal);
        Assert.Equal(url, cut.Find("[data-testid='webhook-url']").TextContent.Trim());
        // The secret shown is the one the webhook checks.
        var body = Encoding.UTF8.GetBytes("{\"ref\":\"refs/heads/main\"}");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var answer = await data.Workflows.ReceiveWebhookAsync(org.Org.Slug, new Uri(url).Segments[^1], timestamp.ToString(CultureInfo.InvariantCulture),
            WebhookSignature.Sign(WebhookSignature.SecretBytes(secret), timestamp, body), "page-test", body, default);
        Assert.Equal(202, answer.StatusCode);
        await data.WaitForRunAsync(org, answer.RunId!.Value);

        await cut.InvokeAsync(() => cut.Find("[data-testid='webhook-secret-done']").Click());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='webhook-secret-once']")), Wait);
        Assert.DoesNotContain(secret, cut.Markup, StringComparison.Ordinal);

        var again = Editor(org, id);
        again.WaitForAssertion(() => Assert.Equal(url, again.Find("[data-testid='webhook-url']").TextContent.Trim()), Wait);
        Assert.DoesNotContain(secret, again.Markup, StringComparison.Ordinal);
        Assert.Empty(again.FindAll("#webhook-secret"));
        Assert.NotNull(again.Find("[data-testid='webhook-disable']"));
    }

    [Fact]
    public async Task Run_OutputWithAScriptTag_IsShownAsTextNeverAsHtml()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var key = Guid.NewGuid().ToString("N")[..10];
        var agent = await data.CreateAgentAsync(org.Org, $"You write release notes. key: {key}");
        const string answer = "Release notes <script>alert('owned')</script><b>bold?</b>";
        data.Server.RespondWith(r => r.SystemText.Contains(key, StringComparison.Ordinal) ? ScriptedReply.Say(answer) : null);
        var id = await SaveAsync(org, "Release notes",
            [new WorkflowStep { Name = "notes", Kind = StepKinds.Agent, AgentId = agent.Id, Text = "Write the release notes." }]);
        var runId = await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default);
        var run = await data.WaitForRunAsync(org, runId);
        Assert.True(run.Run.Status == RunStatus.Succeeded, $"{run.Run.Status}: {run.Run.Error}");
        SignIn(org.Member);

        var cut = Render<RunPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.RunId, runId));

        cut.WaitForAssertion(() => Assert.Equal(RunStatus.Succeeded, cut.Find("[data-testid='run-status']").GetAttribute("data-status")), Wait);
        var output = cut.Find("[data-testid='step-output']");
        Assert.Equal(answer, output.TextContent);
        Assert.Empty(output.QuerySelectorAll("script"));
        Assert.Empty(output.QuerySelectorAll("b"));
        Assert.Empty(cut.FindAll("script"));
        Assert.Contains("&lt;script&gt;", cut.Markup, StringComparison.Ordinal);
        var step = cut.Find("[data-testid='run-step']");
        Assert.Equal(StepStatus.Succeeded, step.GetAttribute("data-status"));
        Assert.Contains("notes", step.TextContent, StringComparison.Ordinal);
        Assert.Contains("Agent prompt", step.TextContent, StringComparison.Ordinal);
        Assert.NotNull(cut.Find("[data-testid='rerun']"));
        Assert.Empty(cut.FindAll("[data-testid='cancel-run']"));
    }

    [Fact]
    public async Task Run_AsViewer_ShowsTheRunButOffersNoCancelOrRerun()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        var id = await SaveAsync(org, "Quick check",
            [new WorkflowStep { Name = "check", Kind = StepKinds.Condition, Text = "nothing to see", Pattern = "alarm", OnMatch = ConditionActions.Stop }]);
        var runId = await data.Workflows.RunNowAsync(org.Owner, org.Org.Slug, id, default);
        await data.WaitForRunAsync(org, runId);
        SignIn(org.Member);

        var cut = Render<RunPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.RunId, runId));
        var runs = Render<RunsIndex>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.WorkflowId, id));

        cut.WaitForAssertion(() => Assert.Equal(RunStatus.Succeeded, cut.Find("[data-testid='run-status']").GetAttribute("data-status")), Wait);
        Assert.StartsWith("not matched", cut.Find("[data-testid='step-output']").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid='rerun']"));
        Assert.Empty(cut.FindAll("[data-testid='cancel-run']"));
        runs.WaitForAssertion(() => Assert.Single(runs.FindAll("[data-testid='run-row']")), Wait);
        var row = runs.Find("[data-testid='run-row']");
        Assert.Equal(RunTriggers.Manual, row.GetAttribute("data-trigger"));
        Assert.Contains("Run now", row.TextContent, StringComparison.Ordinal);
        Assert.Empty(runs.FindAll("[data-testid='run-now']"));
    }

    [Fact]
    public async Task Run_CancelAsksFirst_DismissedKeepsItRunning_ConfirmedCancelsIt()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var key = Guid.NewGuid().ToString("N")[..10];
        var agent = await data.CreateAgentAsync(org.Org, $"You ponder at length. key: {key}");
        data.Server.RespondWith(r => r.SystemText.Contains(key, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "pondering ", Chunks = 1, ChunkDelay = TimeSpan.FromMilliseconds(50), Endless = true }
            : null);
        var id = await SaveAsync(org, "Long think",
        [
            new WorkflowStep { Name = "think", Kind = StepKinds.Agent, AgentId = agent.Id, Text = "Think it over." },
            new WorkflowStep { Name = "after", Kind = StepKinds.Condition, Text = "{{think}}", Pattern = "x", OnMatch = ConditionActions.Stop },
        ]);
        var runId = await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default);
        SignIn(org.Member);
        var dialogs = Render<MudDialogProvider>();
        var cut = Render<RunPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.RunId, runId));
        cut.WaitForAssertion(() => Assert.Equal(RunStatus.Running, cut.Find("[data-testid='run-status']").GetAttribute("data-status")), Wait);

        // Not awaited: the click waits for the dialog's answer.
        var first = cut.Find("[data-testid='cancel-run']").ClickAsync(new());
        dialogs.WaitForAssertion(() => Assert.Contains("Cancel this run?", dialogs.Markup, StringComparison.Ordinal), Wait);
        Assert.False((await data.Workflows.RunAsync(org.Owner, org.Org.Slug, runId, default)).Run.CancelRequested);
        await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Cancel").ClickAsync(new());
        await first.WaitAsync(Wait);
        var dismissed = await data.Workflows.RunAsync(org.Owner, org.Org.Slug, runId, default);
        Assert.False(dismissed.Run.CancelRequested);
        Assert.Equal(RunStatus.Running, dismissed.Run.Status);

        var second = cut.Find("[data-testid='cancel-run']").ClickAsync(new());
        dialogs.WaitForAssertion(() => Assert.Contains("Cancel this run?", dialogs.Markup, StringComparison.Ordinal), Wait);
        await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Cancel run").ClickAsync(new());
        await second.WaitAsync(Wait);

        var ended = await data.WaitForRunAsync(org, runId);
        Assert.Equal(RunStatus.Cancelled, ended.Run.Status);
        Assert.Equal(StepStatus.Skipped, ended.Steps[1].Status);
        cut.WaitForAssertion(() => Assert.Equal(RunStatus.Cancelled, cut.Find("[data-testid='run-status']").GetAttribute("data-status")), Wait);
        Assert.Empty(cut.FindAll("[data-testid='cancel-run']"));
        Assert.NotNull(cut.Find("[data-testid='rerun']"));
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not become true.");
            }
            await Task.Delay(100);
        }
    }
}
