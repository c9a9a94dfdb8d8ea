using System.Globalization;
using System.Text;
using AgentSpace.Audit;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Workflows;

/// <summary>
/// Small limits, and a scheduler that stores jobs but does not fire them, so runs stay queued until a test ends them.
/// </summary>
public sealed class WorkflowLimitFixture : WorkflowFixture
{
    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>(base.ExtraSettings)
    {
        ["Workflows:Scheduler:Enabled"] = "false",
        ["Workflows:Limits:MaxActiveRunsPerWorkflow"] = "1",
        ["Workflows:Limits:MaxActiveRunsPerOrganization"] = "2",
        ["Workflows:Limits:MaxWorkflowsPerOrganization"] = "4",
        ["Workflows:Limits:MaxSchedulesPerOrganization"] = "1",
    };
}

/// <summary>
/// Limits on runs nobody watches start: runs at once per workflow and per organization (Run now refused, a firing
/// kept as skipped with its reason, a webhook delivery answered 429 and accepted later), workflows and schedules per
/// organization, and the lock that keeps parallel callers under them.
/// </summary>
public sealed class WorkflowLimitTests(WorkflowLimitFixture data) : IClassFixture<WorkflowLimitFixture>
{
    private static WorkflowInput Simple(string name, string? cron = null) => new(name, null,
        [new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "ok", Pattern = "ok", OnMatch = ConditionActions.Continue }],
        cron, null, cron is not null);

    private Task EndRunsAsync(TestOrg org) => data.InTenantAsync(org.Org, async db =>
        await db.WorkflowRuns.Where(r => r.Status == RunStatus.Queued).ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, RunStatus.Succeeded)));

    [Fact]
    public async Task RunNow_BeyondRunsAtOnce_IsRefusedWithTheLimit_AndAllowedOnceARunEnds()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var first = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("First"), default);
        var second = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Second"), default);
        var third = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Third"), default);

        var run = await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, first, default);
        var perWorkflow = await Assert.ThrowsAsync<WorkflowBusyException>(() => data.Workflows.RunNowAsync(org.Member, org.Org.Slug, first, default));
        Assert.Equal("This workflow already has 1 runs queued or running (at most 1 at once).", perWorkflow.Message);
        Assert.Equal(429, perWorkflow.StatusCode);
        await Assert.ThrowsAsync<WorkflowBusyException>(() => data.Workflows.RerunAsync(org.Member, org.Org.Slug, run, default));
        await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, second, default);
        var perOrg = await Assert.ThrowsAsync<WorkflowBusyException>(() => data.Workflows.RunNowAsync(org.Member, org.Org.Slug, third, default));
        Assert.Contains("organization already has 2 workflow runs queued or running (at most 2 at once)", perOrg.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await data.Workflows.RunsAsync(org.Member, org.Org.Slug, null, default)).Count);

        // Another organization's runs do not count against this one.
        var other = await data.OrgWithMemberAsync(OrgRole.Member);
        var elsewhere = await data.Workflows.SaveAsync(other.Member, other.Org.Slug, null, Simple("Elsewhere"), default);
        await data.Workflows.RunNowAsync(other.Member, other.Org.Slug, elsewhere, default);

        await EndRunsAsync(org);
        await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, third, default);
        await data.Workflows.RerunAsync(org.Member, org.Org.Slug, run, default);
    }

    [Fact]
    public async Task RunNow_CalledInParallel_OnlyAsManyAsTheLimitAreStored()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Busy"), default);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default);
                return true;
            }
            catch (WorkflowBusyException)
            {
                return false;
            }
        }));

        Assert.Equal(1, attempts.Count(a => a));
        Assert.Single(await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default));
    }

    [Fact]
    public async Task ScheduleFiring_BeyondRunsAtOnce_IsKeptAsSkippedWithItsReason_AuditedAndNotRunTwice()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Every minute", "* * * * *"), default);
        var at = new DateTimeOffset(2026, 12, 8, 3, 0, 0, TimeSpan.Zero);
        await data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at, at.AddMilliseconds(30), default);

        await data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at.AddMinutes(1), at.AddMinutes(1).AddMilliseconds(30), default);
        await data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at.AddMinutes(1), at.AddMinutes(1).AddMilliseconds(60), default);

        var runs = await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default);
        Assert.Equal(2, runs.Count);
        var skipped = Assert.Single(runs, r => r.Status == RunStatus.Skipped);
        Assert.Equal("Not run. This workflow already has 1 runs queued or running (at most 1 at once).", skipped.Error);
        Assert.NotNull(skipped.EndedAt);
        var detail = await data.Workflows.RunAsync(org.Member, org.Org.Slug, skipped.Id, default);
        Assert.All(detail.Steps, s => Assert.Equal(StepStatus.Skipped, s.Status));
        Assert.Single(runs, r => r.Status == RunStatus.Queued);
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        var refused = Assert.Single(audit, e => e.Action == WorkflowAuditActions.RunRefused);
        Assert.Equal(AuditOutcome.Denied, refused.Outcome);
        // A skipped run is over: it cannot be cancelled.
        await Assert.ThrowsAsync<WorkflowRuleException>(() => data.Workflows.CancelAsync(org.Member, org.Org.Slug, skipped.Id, default));
    }

    [Fact]
    public async Task Webhook_BeyondRunsAtOnce_Answers429AndStoresNothing_TheSameDeliveryIsAcceptedLater()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("On push"), default);
        var hook = await data.Workflows.EnableWebhookAsync(org.Owner, org.Org.Slug, id, "https://agentspace.test", default);
        var path = hook.Url.Split('/')[^1];
        var body = Encoding.UTF8.GetBytes("{\"ref\":\"main\"}");
        Task<WebhookAnswer> DeliverAsync(string key)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            return data.Workflows.ReceiveWebhookAsync(org.Org.Slug, path, now.ToString(CultureInfo.InvariantCulture),
                WebhookSignature.Sign(WebhookSignature.SecretBytes(hook.Secret), now, body), key, body, default);
        }
        await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default);

        var busy = await DeliverAsync("push-1");

        Assert.Equal(429, busy.StatusCode);
        Assert.StartsWith("This workflow already has 1 runs queued or running", busy.Message, StringComparison.Ordinal);
        Assert.Null(busy.RunId);
        Assert.Single(await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default));
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        var refusal = Assert.Single(audit, e => e.Action == WorkflowAuditActions.WebhookRefused);
        Assert.Contains("busy", refusal.Details, StringComparison.Ordinal);

        await EndRunsAsync(org);
        var later = await DeliverAsync("push-1");
        Assert.Equal(202, later.StatusCode);
        Assert.Equal(409, (await DeliverAsync("push-1")).StatusCode);
    }

    [Fact]
    public async Task Save_BeyondWorkflowsOrSchedulesPerOrganization_IsRefusedWithTheLimit()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var scheduled = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Nightly", "0 2 * * *"), default);
        var second = await Assert.ThrowsAsync<WorkflowRuleException>(() =>
            data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Hourly", "0 * * * *"), default));
        Assert.Equal("This organization has 1 workflows on a schedule, the most it may have. Switch one off first.", second.Message);
        // Saving the scheduled one again is not a second schedule.
        var detail = await data.Workflows.GetAsync(org.Member, org.Org.Slug, scheduled, default);
        await data.Workflows.SaveAsync(org.Member, org.Org.Slug, scheduled, Simple("Nightly, renamed", "0 3 * * *") with { Version = detail.Workflow.Version }, default);

        for (var i = 0; i < 3; i++)
        {
            await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple($"Manual {i}"), default);
        }
        var fifth = await Assert.ThrowsAsync<WorkflowRuleException>(() => data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("One too many"), default));
        Assert.Contains("4 workflows, the most it may have", fifth.Message, StringComparison.Ordinal);
        Assert.Equal(4, (await data.Workflows.HomeAsync(org.Member, org.Org.Slug, default)).Workflows.Count);
    }
}
