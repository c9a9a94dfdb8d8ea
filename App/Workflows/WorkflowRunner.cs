using System.Globalization;
using System.Net;
using System.Text.Json;
using AgentSpace.Boardroom;
using AgentSpace.Chat;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Workflows;

/// <summary>
/// Runs one stored run to its end, step by step, on whichever node the scheduler gave it to. Each step's state is
/// written before and after its slow part (a model call, a search, a delivery), never during it; a step that
/// succeeded is never run again, so a run taken up again after a crash goes on from the first step not done.
/// Side effects are written to the outbox with the step's state in one transaction, then delivered.
/// </summary>
public sealed class WorkflowRunner(
    TenantOperation operations,
    ChatEngine chat,
    KnowledgeSearch knowledge,
    BoardroomService boardroom,
    OutboxDelivery outbox,
    WorkflowLiveRuns live,
    TimeProvider clock,
    ILogger<WorkflowRunner> logger)
{
    /// <summary>What the audit log gives as the system actor's reason.</summary>
    public const string SystemReason = "workflow run";

    public const int KnowledgePassages = 5;
    private static readonly TimeSpan BoardroomWait = TimeSpan.FromMinutes(30);

    /// <summary>Takes the run up (again, after a crash) and runs what is left of it. Returns the run's final status.</summary>
    public async Task<string> RunAsync(Guid organizationId, Guid runId, string node, CancellationToken ct)
    {
        var run = await operations.RunAsSystemAsync(organizationId, SystemReason, async (w, t) =>
        {
            var row = await w.Db.WorkflowRuns.FirstOrDefaultAsync(r => r.Id == runId, t);
            if (row is null || RunStatus.IsFinal(row.Status))
            {
                return null;
            }
            var first = row.Attempts == 0;
            if (!first)
            {
                // Taken up again: the attempt before this one is over (the scheduler recovers a run only from a node that
                // stopped checking in, and never runs one run twice at once), so the lease it held on an effect it was
                // delivering is released now rather than waited out. The effect goes again with the same key.
                var now = clock.GetUtcNow();
                await w.Db.Outbox.Where(m => m.RunId == runId && m.Status == OutboxStatus.Pending && m.Attempts > 0 && m.NextAttemptAt > now)
                    .ExecuteUpdateAsync(u => u.SetProperty(m => m.NextAttemptAt, now), t);
            }
            row.Status = RunStatus.Running;
            row.Attempts++;
            row.Node = node;
            row.StartedAt ??= clock.GetUtcNow();
            w.Audit(first ? WorkflowAuditActions.RunStarted : WorkflowAuditActions.RunResumed, row.Id.ToString(), new Dictionary<string, string?>
            {
                ["workflow"] = row.WorkflowName,
                ["trigger"] = row.Trigger,
                ["attempt"] = row.Attempts.ToString(CultureInfo.InvariantCulture),
                ["owner"] = row.OwnerEmail,
            });
            return new { row.Id, row.WorkflowId, row.StepsJson, row.Input, row.OwnerUserId, row.OwnerEmail, row.CancelRequested, Slug = w.Org.Slug };
        }, ct);
        if (run is null)
        {
            return RunStatus.Succeeded;
        }
        var steps = WorkflowDefinition.Parse(run.StepsJson);
        var owner = new Actor(run.OwnerUserId, run.OwnerEmail, null);
        using var watch = live.Start(runId, ct);
        var token = watch.Token;
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        var states = await operations.RunAsSystemAsync(organizationId, SystemReason, async (w, t) =>
            await w.Db.WorkflowRunSteps.AsNoTracking().Where(s => s.RunId == runId).OrderBy(s => s.Index).ToListAsync(t), ct);

        var final = RunStatus.Succeeded;
        string? error = null;
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var state = states.FirstOrDefault(s => s.Index == i);
            if (state?.Status == StepStatus.Succeeded)
            {
                outputs[step.Name] = state.Output ?? "";
                continue;
            }
            if (token.IsCancellationRequested || await CancelRequestedAsync(organizationId, runId, ct))
            {
                final = RunStatus.Cancelled;
                break;
            }
            await MarkStepAsync(organizationId, runId, i, StepStatus.Running, null, null, default, ct);
            StepResult result;
            try
            {
                result = await RunStepAsync(organizationId, run.Slug, runId, i, step, owner, outputs, run.Input, token);
            }
            catch (OperationCanceledException) when (watch.CancelRequested && !ct.IsCancellationRequested)
            {
                await MarkStepAsync(organizationId, runId, i, StepStatus.Skipped, null, "Cancelled while it ran.", default, ct);
                final = RunStatus.Cancelled;
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var message = ShownError(ex);
                logger.LogWarning(ex, "Workflow run {RunId} step {Step} failed", runId, i);
                await MarkStepAsync(organizationId, runId, i, StepStatus.Failed, null, message, default, ct);
                final = RunStatus.Failed;
                error = $"Step {i + 1} ({step.Name}) failed: {message}";
                break;
            }
            await MarkStepAsync(organizationId, runId, i, result.Failed ? StepStatus.Failed : StepStatus.Succeeded, result.Output, result.Error, result.Usage, ct);
            outputs[step.Name] = result.Output ?? "";
            if (result.Failed)
            {
                final = RunStatus.Failed;
                error = $"Step {i + 1} ({step.Name}) failed: {result.Error}";
                break;
            }
            if (result.StopRun)
            {
                final = RunStatus.Stopped;
                break;
            }
        }
        await FinishAsync(organizationId, runId, final, error, ct);
        return final;
    }

    /// <summary>Marks a run that can no longer run (its workflow's owner left, the scheduler gave up) as failed, with the reason shown.</summary>
    public Task FailAsync(Guid organizationId, Guid runId, string reason, CancellationToken ct) =>
        FinishAsync(organizationId, runId, RunStatus.Failed, reason, ct);

    /// <summary>
    /// Marks a run that was left running by a node that stopped, and that no node will take up again, as failed with
    /// the reason shown; does nothing (and returns false) when the run is no longer running.
    /// </summary>
    public Task<bool> FailStrandedAsync(Guid organizationId, Guid runId, string reason, CancellationToken ct) =>
        FinishAsync(organizationId, runId, RunStatus.Failed, reason, ct, onlyIfStatus: RunStatus.Running);

    private async Task<StepResult> RunStepAsync(Guid organizationId, string slug, Guid runId, int index, WorkflowStep step, Actor owner,
        IReadOnlyDictionary<string, string> outputs, string? input, CancellationToken ct)
    {
        switch (step.Kind)
        {
            case StepKinds.Agent:
            {
                var prompt = WorkflowDefinition.Render(step.Text, outputs, input, envelope: true);
                var outcome = await chat.SendAsync(ChatCaller.ForWorkflow(owner), slug, step.AgentId!.Value, null, prompt, null, ct);
                var usage = await UsageOfAsync(organizationId, outcome.AssistantTurnId, ct);
                return outcome.Status == TurnStatus.Complete
                    ? new StepResult(WorkflowDefinition.Keep(outcome.Content), null, usage)
                    : new StepResult(WorkflowDefinition.Keep(outcome.Content), outcome.Error ?? $"The agent's answer ended {outcome.Status}.", usage);
            }
            case StepKinds.Knowledge:
            {
                var query = WorkflowDefinition.Render(step.Text, outputs, input, envelope: false);
                var hits = await knowledge.SearchAsync(owner, slug, query.Length > 2000 ? query[..2000] : query, KnowledgeScope.AllDocuments, KnowledgePassages, ct);
                var text = hits.Count == 0 ? "No passage matched."
                    : string.Join("\n\n", hits.Select((h, n) => string.Create(CultureInfo.InvariantCulture,
                        $"[{n + 1}] {h.DocumentName}{(h.Page is { } p ? $", page {p}" : "")}\n{h.Text}")));
                return new StepResult(WorkflowDefinition.Keep(text), null, default);
            }
            case StepKinds.Boardroom:
                return await BoardroomStepAsync(slug, step, owner, outputs, input, ct);
            case StepKinds.Condition:
            {
                var text = WorkflowDefinition.Render(step.Text, outputs, input, envelope: false);
                var matched = text.Contains(step.Pattern ?? "", StringComparison.OrdinalIgnoreCase);
                var stop = matched == (step.OnMatch == ConditionActions.Stop);
                var output = (matched ? "matched" : "not matched") + (stop ? "; the run stops here" : "; the run goes on");
                return new StepResult(output, null, default, StopRun: stop);
            }
            case StepKinds.Email:
            case StepKinds.Http:
            {
                var message = await outbox.EnqueueAsync(organizationId, runId, index, step, outputs, input, ct);
                var delivered = await outbox.DeliverAsync(organizationId, message, ct);
                // A response body is kept, and seen by later steps, like any output: at most the output limit.
                var result = WorkflowDefinition.Keep(delivered.Result);
                return delivered.Sent
                    ? new StepResult(result, null, default)
                    : new StepResult(result, delivered.Error ?? "Not delivered.", default);
            }
            default:
                throw new WorkflowRunException($"This run holds a step of an unknown kind ({step.Kind}).");
        }
    }

    private async Task<StepResult> BoardroomStepAsync(string slug, WorkflowStep step, Actor owner, IReadOnlyDictionary<string, string> outputs, string? input, CancellationToken ct)
    {
        // Earlier outputs and the webhook body reach the members' models inside the untrusted-content envelope, as in an agent step.
        var question = WorkflowDefinition.Render(step.Text, outputs, input, envelope: true);
        if (question.Length > BoardroomLimits.MaxQuestion)
        {
            question = question[..BoardroomLimits.MaxQuestion];
        }
        var sessionId = await boardroom.StartAsync(owner, slug, new SessionInput(question, null, step.Members, step.AgentId, step.Rounds ?? 2,
            SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 1m), ct);
        var deadline = clock.GetUtcNow() + BoardroomWait;
        while (true)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), clock, ct);
            var view = await boardroom.OpenAsync(owner, slug, sessionId, ct);
            if (view.Status == ShownStatus.Ended && view.Session.DecisionId is { } decisionId)
            {
                var detail = await boardroom.DecisionAsync(owner, slug, decisionId, ct);
                return new StepResult(WorkflowDefinition.Keep(detail.Record.Content.Decision), null, default);
            }
            if (view.Status is ShownStatus.Failed or ShownStatus.Interrupted || (view.Status == ShownStatus.Ended && view.Session.DecisionId is null))
            {
                return new StepResult(null, $"The boardroom session ended without a decision ({StopReasons.Describe(view.Session.StopReason)}).", default);
            }
            if (clock.GetUtcNow() > deadline)
            {
                await boardroom.StopAsync(owner, slug, sessionId, ct);
                return new StepResult(null, "The boardroom session ran longer than 30 minutes and was stopped.", default);
            }
        }
    }

    private Task<StepUsage> UsageOfAsync(Guid organizationId, Guid assistantTurnId, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, SystemReason, async (w, t) =>
        {
            var rows = await w.Db.Usage.AsNoTracking().Where(u => u.MessageId == assistantTurnId)
                .Select(u => new { u.InputTokens, u.OutputTokens, u.CostUsd }).ToListAsync(t);
            return new StepUsage(rows.Sum(r => r.InputTokens), rows.Sum(r => r.OutputTokens), rows.Sum(r => r.CostUsd));
        }, ct);

    private Task<bool> CancelRequestedAsync(Guid organizationId, Guid runId, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, SystemReason, (w, t) =>
            w.Db.WorkflowRuns.AsNoTracking().Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefaultAsync(t), ct);

    private Task MarkStepAsync(Guid organizationId, Guid runId, int index, string status, string? output, string? error, StepUsage usage, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, SystemReason, async (w, t) =>
        {
            var row = await w.Db.WorkflowRunSteps.FirstAsync(s => s.RunId == runId && s.Index == index, t);
            var now = clock.GetUtcNow();
            row.Status = status;
            if (status == StepStatus.Running)
            {
                row.StartedAt = now;
                row.Error = null;
                return;
            }
            row.EndedAt = now;
            row.Output = output is null ? null : WorkflowDefinition.Keep(output);
            row.Error = error is null ? null : Cut(error, WorkflowLimits.MaxError);
            row.InputTokens = usage.InputTokens;
            row.OutputTokens = usage.OutputTokens;
            row.CostUsd = usage.CostUsd;
        }, ct);

    private async Task<bool> FinishAsync(Guid organizationId, Guid runId, string status, string? error, CancellationToken ct, string? onlyIfStatus = null)
    {
        // Written even when the node is going down: a run is never left running without a reason.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        return await operations.RunAsSystemAsync(organizationId, SystemReason, async (w, t) =>
        {
            var run = await w.Db.WorkflowRuns.FromSql($"select * from workflow_runs where id = {runId} for update").Where(r => r.Id == runId).FirstAsync(t);
            if (onlyIfStatus is not null && run.Status != onlyIfStatus)
            {
                return false;
            }
            var steps = await w.Db.WorkflowRunSteps.Where(s => s.RunId == runId).ToListAsync(t);
            var now = clock.GetUtcNow();
            foreach (var step in steps.Where(s => s.Status is StepStatus.Pending or StepStatus.Running))
            {
                step.Status = StepStatus.Skipped;
                step.EndedAt ??= now;
            }
            run.Status = status;
            run.EndedAt = now;
            run.Error = error is null ? null : Cut(error, WorkflowLimits.MaxError);
            run.InputTokens = steps.Sum(s => s.InputTokens);
            run.OutputTokens = steps.Sum(s => s.OutputTokens);
            run.CostUsd = steps.Sum(s => s.CostUsd);
            w.Audit(WorkflowAuditActions.RunEnded, run.Id.ToString(), new Dictionary<string, string?>
            {
                ["workflow"] = run.WorkflowName,
                ["status"] = status,
                ["tokens"] = (run.InputTokens + run.OutputTokens).ToString(CultureInfo.InvariantCulture),
                ["cost_usd"] = run.CostUsd.ToString("0.000000", CultureInfo.InvariantCulture),
                ["error"] = run.Error,
            }, status is RunStatus.Failed ? Audit.AuditOutcome.Failure : Audit.AuditOutcome.Success);
            return true;
        }, timeout.Token);
    }

    internal static string ShownError(Exception ex) => ex switch
    {
        Hosting.UserFacingException user => user.Message,
        WorkflowRunException run => run.Message,
        OutboundRequestRefusedException refused => refused.Message,
        HttpRequestException http => "The request failed: " + Cut(http.Message, 300),
        TimeoutException => "The step timed out.",
        JsonException => "The step's settings could not be read.",
        WebException web => "The request failed: " + Cut(web.Message, 300),
        _ => "An unexpected error stopped the step; it is in the server log.",
    };

    private static string Cut(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    private sealed record StepResult(string? Output, string? Error, StepUsage Usage, bool StopRun = false)
    {
        public bool Failed => Error is not null;
    }
}

/// <summary>The tokens and cost a step's model calls used.</summary>
public readonly record struct StepUsage(int InputTokens, int OutputTokens, decimal CostUsd);
