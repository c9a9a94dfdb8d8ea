using System.Text.Json;
using AgentSpace.Audit;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Quartz;

namespace AgentSpace.Tests.Workflows;

/// <summary>The scheduler on, its periodic sweep out of the way (an hour apart), so each test sweeps when it says so.</summary>
public sealed class WorkflowRecoveryFixture : WorkflowFixture
{
    protected override IDictionary<string, string?> ExtraSettings
    {
        get
        {
            var settings = base.ExtraSettings;
            settings["Workflows:Scheduler:SweepInterval"] = "01:00:00";
            return settings;
        }
    }
}

/// <summary>
/// What a node that stopped leaves behind and the scheduler's own recovery cannot see, put in the database as the
/// node left it, then swept: a run stored but never queued runs; a run left running with no job fails with the reason
/// shown; an effect no run will deliver goes out once with its key, or is given up visibly; a run taken up again after
/// a crash mid-delivery takes the dead node's lease over at once instead of waiting it out.
/// </summary>
public sealed class WorkflowRecoveryTests(WorkflowRecoveryFixture data) : IClassFixture<WorkflowRecoveryFixture>
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private WorkflowRecovery Recovery => data.Get<WorkflowRecovery>();

    private async Task<(TestOrg Org, Guid WorkflowId)> OrgWithWorkflowAsync(string path)
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        await data.AllowSinkAsync(org);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, new WorkflowInput("Recovered", null,
        [
            new WorkflowStep { Name = "check", Kind = StepKinds.Condition, Text = "ok", Pattern = "ok", OnMatch = ConditionActions.Continue },
            new WorkflowStep { Name = "post", Kind = StepKinds.Http, Method = "POST", Url = data.Sink.BaseUrl + path, Text = "from the run" },
        ], null, null, false), default);
        return (org, id);
    }

    /// <summary>
    /// A run as a node left it: <paramref name="status"/>, created <paramref name="age"/> ago, the condition step done
    /// unless the run is still queued, the HTTP step in <paramref name="httpStep"/>, and its effect written when
    /// <paramref name="attempts"/> is given (with the lease running out at <paramref name="leaseUntil"/>).
    /// </summary>
    private async Task<Guid> LeftBehindAsync(TestOrg org, Guid workflowId, string status, TimeSpan age, string httpStep,
        int? attempts = null, DateTimeOffset? leaseUntil = null, int runAttempts = 1)
    {
        var runId = Guid.CreateVersion7();
        var created = DateTimeOffset.UtcNow - age;
        await data.InTenantAsync(org.Org, async db =>
        {
            var workflow = await db.Workflows.SingleAsync(w => w.Id == workflowId);
            var queued = status == RunStatus.Queued;
            db.WorkflowRuns.Add(new WorkflowRun
            {
                Id = runId, WorkflowId = workflowId, WorkflowName = workflow.Name, Trigger = RunTriggers.Manual, Status = status,
                Attempts = queued ? 0 : runAttempts, StartedAt = queued ? null : created, EndedAt = RunStatus.IsFinal(status) ? created : null,
                StepsJson = workflow.StepsJson, OwnerUserId = workflow.OwnerUserId, OwnerEmail = workflow.OwnerEmail, CreatedAt = created,
            });
            db.WorkflowRunSteps.Add(new WorkflowRunStep
            {
                RunId = runId, Index = 0, Name = "check", Kind = StepKinds.Condition,
                Status = queued ? StepStatus.Pending : StepStatus.Succeeded, Output = queued ? null : "matched; the run goes on",
            });
            db.WorkflowRunSteps.Add(new WorkflowRunStep { RunId = runId, Index = 1, Name = "post", Kind = StepKinds.Http, Status = httpStep });
            if (attempts is { } tries)
            {
                var url = WorkflowDefinition.Parse(workflow.StepsJson)[1].Url!;
                db.Outbox.Add(new OutboxMessage
                {
                    Id = Guid.CreateVersion7(), RunId = runId, StepIndex = 1, Kind = OutboxDelivery.HttpKind, IdempotencyKey = $"{runId:N}-1",
                    Status = OutboxStatus.Pending, Attempts = tries, NextAttemptAt = leaseUntil ?? created, CreatedAt = created,
                    PayloadJson = JsonSerializer.Serialize(new HttpEffect("POST", url, "written before the crash", "text/plain; charset=utf-8"), Json),
                });
            }
            await db.SaveChangesAsync();
        });
        return runId;
    }

    private Task<OutboxMessage> MessageAsync(TestOrg org, Guid runId) =>
        data.InTenantAsync(org.Org, db => db.Outbox.AsNoTracking().SingleAsync(m => m.RunId == runId));

    private List<SinkRequest> Received(Guid runId) => [.. data.Sink.Received.Where(r => r.IdempotencyKey == $"{runId:N}-1")];

    [Fact]
    public async Task Sweep_RunStoredButNeverQueued_IsQueuedAndRunsOnce_AYoungOneIsLeftToItsNode()
    {
        var (org, workflowId) = await OrgWithWorkflowAsync("/never-queued");
        var stranded = await LeftBehindAsync(org, workflowId, RunStatus.Queued, TimeSpan.FromMinutes(5), StepStatus.Pending);
        // Stored a moment ago: its node may be queuing it right now.
        var young = await LeftBehindAsync(org, workflowId, RunStatus.Queued, TimeSpan.Zero, StepStatus.Pending);

        var sweep = await Recovery.SweepAsync(org.Org.Id, default);

        Assert.Equal(1, sweep.RunsQueued);
        var run = await data.WaitForRunAsync(org, stranded);
        Assert.True(run.Run.Status == RunStatus.Succeeded, $"{run.Run.Status}: {run.Run.Error}");
        Assert.Equal(1, run.Run.Attempts);
        var request = Assert.Single(Received(stranded));
        Assert.Equal("from the run", request.Body);
        Assert.False(await data.Get<WorkflowScheduler>().RunQueuedAsync(young, default));
        Assert.Equal(RunStatus.Queued, (await data.Workflows.RunAsync(org.Member, org.Org.Slug, young, default)).Run.Status);

        // Swept again: nothing left to do, nothing sent twice.
        Assert.False((await Recovery.SweepAsync(org.Org.Id, default)).Any);
        Assert.Single(Received(stranded));
    }

    [Fact]
    public async Task Sweep_RunLeftRunningWithItsJobGone_FailsWithTheReasonShown_ItsEffectGoesOutOnceWithItsKey()
    {
        var (org, workflowId) = await OrgWithWorkflowAsync("/job-gone");
        // Its node claimed the effect (attempt 1) and stopped; the lease ran out long ago and no job is left to resume it.
        var runId = await LeftBehindAsync(org, workflowId, RunStatus.Running, TimeSpan.FromMinutes(10), StepStatus.Running,
            attempts: 1, leaseUntil: DateTimeOffset.UtcNow.AddMinutes(-8));

        var sweep = await Recovery.SweepAsync(org.Org.Id, default);

        Assert.Equal(1, sweep.RunsFailed);
        Assert.Equal(1, sweep.EffectsSent);
        var run = await data.Workflows.RunAsync(org.Member, org.Org.Slug, runId, default);
        Assert.Equal(RunStatus.Failed, run.Run.Status);
        Assert.Equal(WorkflowRecovery.StoppedNodeError, run.Run.Error);
        Assert.StartsWith("The node running it stopped", run.Run.Error, StringComparison.Ordinal);
        Assert.NotNull(run.Run.EndedAt);
        Assert.Equal([StepStatus.Succeeded, StepStatus.Skipped], run.Steps.Select(s => s.Status));
        Assert.StartsWith("HTTP 200", run.Steps[1].Output, StringComparison.Ordinal);
        var request = Assert.Single(Received(runId));
        Assert.Equal("written before the crash", request.Body);
        var message = await MessageAsync(org, runId);
        Assert.Equal(OutboxStatus.Sent, message.Status);
        Assert.Equal(2, message.Attempts);
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.RunEnded && e.Target == runId.ToString() && e.Outcome == AuditOutcome.Failure);
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.EffectDelivered && e.Target == runId.ToString() && e.Outcome == AuditOutcome.Success);

        Assert.False((await Recovery.SweepAsync(org.Org.Id, default)).Any);
        Assert.Single(Received(runId));
    }

    [Fact]
    public async Task Sweep_RunWhoseJobIsStillStored_IsLeftToTheScheduler_WithItsEffect()
    {
        var (org, workflowId) = await OrgWithWorkflowAsync("/still-stored");
        var runId = await LeftBehindAsync(org, workflowId, RunStatus.Running, TimeSpan.FromMinutes(10), StepStatus.Running,
            attempts: 1, leaseUntil: DateTimeOffset.UtcNow.AddMinutes(-8));
        // Its job is in the store (as while a node runs it, or before the scheduler recovers it from a node that stopped),
        // with a trigger that will not fire during the test.
        var scheduler = await data.Get<ISchedulerFactory>().GetScheduler();
        var job = JobBuilder.Create<WorkflowRunJob>().WithIdentity(runId.ToString("N"), WorkflowScheduler.RunGroup)
            .UsingJobData(WorkflowScheduler.OrganizationKey, org.Org.Id.ToString("N")).UsingJobData(WorkflowScheduler.RunKey, runId.ToString("N"))
            .RequestRecovery().Build();
        await scheduler.ScheduleJob(job, TriggerBuilder.Create().ForJob(job).StartAt(DateTimeOffset.UtcNow.AddHours(1)).Build());
        try
        {
            var sweep = await Recovery.SweepAsync(org.Org.Id, default);

            Assert.False(sweep.Any);
            Assert.Equal(RunStatus.Running, (await data.Workflows.RunAsync(org.Member, org.Org.Slug, runId, default)).Run.Status);
            Assert.Equal(OutboxStatus.Pending, (await MessageAsync(org, runId)).Status);
            Assert.Empty(Received(runId));
        }
        finally
        {
            await scheduler.DeleteJob(job.Key);
        }
    }

    [Fact]
    public async Task Sweep_EffectWhoseLastAttemptWasCutShort_IsGivenUpVisibly_NotSentAFourthTime()
    {
        var (org, workflowId) = await OrgWithWorkflowAsync("/third-attempt");
        var runId = await LeftBehindAsync(org, workflowId, RunStatus.Failed, TimeSpan.FromMinutes(10), StepStatus.Skipped,
            attempts: OutboxDelivery.MaxAttempts, leaseUntil: DateTimeOffset.UtcNow.AddMinutes(-8));

        var sweep = await Recovery.SweepAsync(org.Org.Id, default);

        Assert.Equal(1, sweep.EffectsGivenUp);
        var message = await MessageAsync(org, runId);
        Assert.Equal(OutboxStatus.Failed, message.Status);
        Assert.Equal(OutboxDelivery.MaxAttempts, message.Attempts);
        Assert.StartsWith($"Given up after {OutboxDelivery.MaxAttempts} attempts", message.LastError, StringComparison.Ordinal);
        Assert.StartsWith("Given up", (await data.Workflows.RunAsync(org.Member, org.Org.Slug, runId, default)).Steps[1].Error, StringComparison.Ordinal);
        Assert.Empty(Received(runId));
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.EffectDelivered && e.Target == runId.ToString() && e.Outcome == AuditOutcome.Failure);
    }

    [Fact]
    public async Task Sweep_EffectOfACancelledRun_IsGivenUpWithTheReason_NotSent()
    {
        var (org, workflowId) = await OrgWithWorkflowAsync("/cancelled");
        var runId = await LeftBehindAsync(org, workflowId, RunStatus.Cancelled, TimeSpan.FromMinutes(10), StepStatus.Skipped, attempts: 0);

        var sweep = await Recovery.SweepAsync(org.Org.Id, default);

        Assert.Equal(1, sweep.EffectsGivenUp);
        var message = await MessageAsync(org, runId);
        Assert.Equal(OutboxStatus.Failed, message.Status);
        Assert.Equal(WorkflowRecovery.CancelledEffectError, message.LastError);
        Assert.Empty(Received(runId));
    }

    [Fact]
    public async Task Resume_AfterACrashMidDelivery_TakesTheStoppedNodesLeaseOver_TheReceiverSeesTheKeyOnce()
    {
        var (org, workflowId) = await OrgWithWorkflowAsync("/mid-delivery");
        // The node claimed the effect a moment ago (its lease runs two more minutes) and was killed before the request left.
        var runId = await LeftBehindAsync(org, workflowId, RunStatus.Running, TimeSpan.Zero, StepStatus.Running,
            attempts: 1, leaseUntil: DateTimeOffset.UtcNow + OutboxDelivery.Lease);
        var started = DateTime.UtcNow;

        // The scheduler recovers the job on another node: here it is queued again, as recovery does.
        await data.Get<WorkflowScheduler>().QueueRunAsync(org.Org.Id, runId, default);
        var run = await data.WaitForRunAsync(org, runId, TimeSpan.FromSeconds(60));

        Assert.True(run.Run.Status == RunStatus.Succeeded, $"{run.Run.Status}: {run.Run.Error}");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "The run waited out the stopped node's lease.");
        Assert.Equal(2, run.Run.Attempts);
        var request = Assert.Single(Received(runId));
        Assert.Equal("written before the crash", request.Body);
        var message = await MessageAsync(org, runId);
        Assert.Equal(OutboxStatus.Sent, message.Status);
        Assert.Equal(2, message.Attempts);
    }
}
