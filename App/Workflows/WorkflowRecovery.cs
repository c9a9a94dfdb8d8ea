using AgentSpace.Data;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Workflows;

/// <summary>What one recovery sweep did.</summary>
public sealed record RecoverySweep(int RunsQueued, int RunsFailed, int EffectsSent, int EffectsGivenUp)
{
    public bool Any => RunsQueued + RunsFailed + EffectsSent + EffectsGivenUp > 0;
}

/// <summary>
/// Finds, in every organization, what the scheduler's own recovery cannot: a run stored as queued whose job never
/// reached the scheduler (its node stopped between the two) is queued; a run left running whose job is gone from the
/// store (so no node runs it and none will recover it) is marked failed with the reason shown; and an effect left
/// pending in the outbox that no run will deliver (its step is over, or its lease ran out long ago and its run's job
/// is gone) is delivered with its idempotency key, within the attempt limit — or given up, visibly, when its run was
/// cancelled. Every node in the cluster sweeps; they cannot step on each other: a run is failed only while still
/// running (its row locked), queuing replaces the same job, and a delivery is claimed with <c>FOR UPDATE SKIP LOCKED</c>
/// and a lease.
/// </summary>
public sealed class WorkflowRecovery(
    TenantOperation operations,
    IDbContextFactory<PlatformDbContext> platform,
    WorkflowScheduler scheduler,
    WorkflowRunner runner,
    OutboxDelivery outbox,
    TimeProvider clock,
    ILogger<WorkflowRecovery> logger)
{
    public const string SystemReason = "workflow recovery";

    /// <summary>
    /// How old a queued or running run must be, and how long ago an effect's lease must have run out, before the sweep
    /// takes it for left behind: a node that stored a run a moment ago is still queuing its job.
    /// </summary>
    public static readonly TimeSpan StrandedAfter = TimeSpan.FromMinutes(1);

    public const string StoppedNodeError =
        "The node running it stopped and the run could not be taken up again, so it ended here. Effects already delivered stay delivered; re-run it to finish.";

    public const string CancelledEffectError = "Not delivered: the run was cancelled before this went out.";

    /// <summary>One sweep over every organization; one organization's trouble is logged and does not stop the others.</summary>
    public async Task<RecoverySweep> SweepAsync(CancellationToken ct)
    {
        List<Guid> organizations;
        await using (var db = await platform.CreateDbContextAsync(ct))
        {
            organizations = await db.Organizations.AsNoTracking().OrderBy(o => o.Id).Select(o => o.Id).ToListAsync(ct);
        }
        int queued = 0, failed = 0, sent = 0, givenUp = 0;
        foreach (var organizationId in organizations)
        {
            try
            {
                var one = await SweepAsync(organizationId, ct);
                queued += one.RunsQueued;
                failed += one.RunsFailed;
                sent += one.EffectsSent;
                givenUp += one.EffectsGivenUp;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Workflow recovery sweep of organization {OrganizationId} failed; the next sweep tries again", organizationId);
            }
        }
        return new RecoverySweep(queued, failed, sent, givenUp);
    }

    /// <summary>Runs first (a run failed here frees its effect for the outbox part), then the outbox.</summary>
    public async Task<RecoverySweep> SweepAsync(Guid organizationId, CancellationToken ct)
    {
        var (queued, failed) = await SweepRunsAsync(organizationId, ct);
        var (sent, givenUp) = await SweepOutboxAsync(organizationId, ct);
        return new RecoverySweep(queued, failed, sent, givenUp);
    }

    private async Task<(int Queued, int Failed)> SweepRunsAsync(Guid organizationId, CancellationToken ct)
    {
        var before = clock.GetUtcNow() - StrandedAfter;
        var open = await operations.RunAsSystemAsync(organizationId, SystemReason, (w, t) =>
            w.Db.WorkflowRuns.AsNoTracking()
                .Where(r => (r.Status == RunStatus.Queued || r.Status == RunStatus.Running) && r.CreatedAt < before)
                .OrderBy(r => r.CreatedAt)
                .Select(r => new { r.Id, r.Status })
                .ToListAsync(t), ct);
        int queued = 0, failed = 0;
        foreach (var run in open)
        {
            // A job in the store is queued, running on a live node, or recovered by the scheduler from a node that
            // stopped (its fired-trigger record says where it ran): that run is the scheduler's, not the sweep's.
            if (await scheduler.RunQueuedAsync(run.Id, ct))
            {
                continue;
            }
            if (run.Status == RunStatus.Queued)
            {
                await scheduler.QueueRunAsync(organizationId, run.Id, ct);
                logger.LogWarning("Workflow run {RunId} of organization {OrganizationId} was stored but never queued; queued it now", run.Id, organizationId);
                queued++;
            }
            else if (await runner.FailStrandedAsync(organizationId, run.Id, StoppedNodeError, ct))
            {
                logger.LogWarning("Workflow run {RunId} of organization {OrganizationId} was left running with no job; marked failed", run.Id, organizationId);
                failed++;
            }
        }
        return (queued, failed);
    }

    private async Task<(int Sent, int GivenUp)> SweepOutboxAsync(Guid organizationId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var leaseGoneBefore = now - StrandedAfter;
        var pending = await operations.RunAsSystemAsync(organizationId, SystemReason, (w, t) =>
            (from m in w.Db.Outbox.AsNoTracking()
             where m.Status == OutboxStatus.Pending
             join r in w.Db.WorkflowRuns.AsNoTracking() on m.RunId equals r.Id
             join s in w.Db.WorkflowRunSteps.AsNoTracking() on new { m.RunId, Index = m.StepIndex } equals new { s.RunId, s.Index }
             orderby m.CreatedAt
             select new { m.Id, m.RunId, m.StepIndex, m.NextAttemptAt, RunStatus = r.Status, StepStatus = s.Status })
            .ToListAsync(t), ct);
        int sent = 0, givenUp = 0;
        foreach (var message in pending)
        {
            // While its step is running in a run that goes on, the effect is its run's to deliver (the run resumes there
            // after a crash); the sweep takes it only when no run will: the step is over, or the lease ran out long ago
            // and the run's job is gone from the scheduler.
            var stepOver = RunStatus.IsFinal(message.RunStatus) || message.StepStatus is not (StepStatus.Running or StepStatus.Pending);
            if (!stepOver && (message.NextAttemptAt >= leaseGoneBefore || await scheduler.RunQueuedAsync(message.RunId, ct)))
            {
                continue;
            }
            try
            {
                if (message.RunStatus == RunStatus.Cancelled)
                {
                    if (await outbox.AbandonAsync(organizationId, message.Id, CancelledEffectError, ct))
                    {
                        await NoteOnStepAsync(organizationId, message.RunId, message.StepIndex, null, CancelledEffectError, ct);
                        givenUp++;
                    }
                    continue;
                }
                if (await outbox.TryDeliverAsync(organizationId, message.Id, ct) is not { } outcome)
                {
                    // A node holds its lease: it is being delivered now.
                    continue;
                }
                await NoteOnStepAsync(organizationId, message.RunId, message.StepIndex, outcome.Result, outcome.Error, ct);
                logger.LogWarning("Outbox message {MessageId} of run {RunId} (organization {OrganizationId}) was left pending; delivery: {Result}",
                    message.Id, message.RunId, organizationId, outcome.Sent ? "sent" : outcome.Error);
                if (outcome.Sent)
                {
                    sent++;
                }
                else
                {
                    givenUp++;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Outbox message {MessageId} of run {RunId} could not be delivered by the recovery sweep", message.Id, message.RunId);
            }
        }
        return (sent, givenUp);
    }

    /// <summary>What became of a step's effect after its run was over, on the step (a step that succeeded keeps its output).</summary>
    private Task NoteOnStepAsync(Guid organizationId, Guid runId, int index, string? output, string? error, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, SystemReason, async (w, t) =>
        {
            var step = await w.Db.WorkflowRunSteps.FirstOrDefaultAsync(s => s.RunId == runId && s.Index == index, t);
            if (step is null || step.Status == StepStatus.Succeeded)
            {
                return;
            }
            if (output is not null)
            {
                step.Output = WorkflowDefinition.Keep(output);
            }
            step.Error = error is null ? null : error.Length > WorkflowLimits.MaxError ? error[..WorkflowLimits.MaxError] : error;
        }, ct);
}
