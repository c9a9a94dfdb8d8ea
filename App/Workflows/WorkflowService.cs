using System.Globalization;
using System.Text;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace AgentSpace.Workflows;

/// <summary>What a member saves: the workflow's name, steps and schedule. <see cref="Version"/> is the copy it was edited from (0 for a new one).</summary>
public sealed record WorkflowInput(string Name, string? Description, IReadOnlyList<WorkflowStep> Steps, string? Cron, string? TimeZone, bool ScheduleEnabled, int Version = 0);

public sealed record WorkflowSummary(Guid Id, string Name, int Steps, string? Cron, string TimeZone, bool ScheduleEnabled, bool WebhookEnabled, string OwnerEmail,
    string? LastStatus, DateTimeOffset? LastRunAt);

public sealed record WorkflowAgentOption(Guid Id, string Name, bool Offline, bool Paused);

public sealed record WorkflowHome(OrgContext Org, IReadOnlyList<WorkflowSummary> Workflows, IReadOnlyList<WorkflowAgentOption> Agents, IReadOnlyList<WorkflowHttpHost> Hosts);

public sealed record WorkflowDetail(OrgContext Org, Workflow Workflow, IReadOnlyList<WorkflowStep> Steps, IReadOnlyList<WorkflowAgentOption> Agents,
    IReadOnlyList<WorkflowHttpHost> Hosts, IReadOnlyList<DateTimeOffset> NextFireTimes);

public sealed record RunSummary(Guid Id, Guid WorkflowId, string WorkflowName, string Trigger, string Status, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt, int Tokens, decimal CostUsd, string? Error);

/// <summary>Runs as a page lists them: the organization's, or one workflow's (with its name, also when it has none yet).</summary>
public sealed record RunList(OrgContext Org, Guid? WorkflowId, string? WorkflowName, IReadOnlyList<RunSummary> Runs);

public sealed record RunDetail(OrgContext Org, WorkflowRun Run, IReadOnlyList<WorkflowRunStep> Steps, bool Live);

/// <summary>A webhook's secret, shown once when it is made.</summary>
public sealed record WebhookSecret(string Url, string Secret);

/// <summary>What a webhook call came to: the HTTP status to answer and what to say.</summary>
public sealed record WebhookAnswer(int StatusCode, string Message, Guid? RunId = null);

/// <summary>A workflow that cannot be saved, with every reason; each names its step and field.</summary>
public sealed class WorkflowInvalidException(IReadOnlyList<WorkflowProblem> problems)
    : UserFacingException(problems.Count == 1 ? problems[0].Message : $"{problems.Count} things need fixing before this workflow can be saved.", 400)
{
    public IReadOnlyList<WorkflowProblem> Problems { get; } = problems;
}

public sealed class WorkflowRuleException(string message) : UserFacingException(message, 400);

public sealed class WorkflowNotFoundException(string what) : UserFacingException($"{what} not found.", 404);

/// <summary>A run refused because a limit on runs at once was reached; the message says which and is safe to show.</summary>
public sealed class WorkflowBusyException(string message, bool ownerGone = false) : UserFacingException(message, ownerGone ? 403 : 429)
{
    /// <summary>Refused because the workflow's owner can no longer have runs made in their name, not for a limit.</summary>
    public bool OwnerGone { get; } = ownerGone;
}

/// <summary>
/// The workflows' pages and endpoints call this. Members build, run, re-run and cancel; Admins also manage webhooks
/// and the HTTP allow-list; Viewers read. Scheduled and webhook runs are attributed to the workflow's owner.
/// </summary>
public sealed class WorkflowService(
    TenantOperation operations,
    WorkflowScheduler scheduler,
    WorkflowLiveRuns live,
    ISecretVault vault,
    IDbContextFactory<PlatformDbContext> platform,
    TimeProvider clock,
    Microsoft.Extensions.Options.IOptions<WorkflowRunLimitOptions> limitOptions,
    ILogger<WorkflowService> logger)
{
    private WorkflowRunLimitOptions Limits => limitOptions.Value;

    public const string WebhookSecretPurpose = "workflow-webhook-secret";

    public Task<WorkflowHome> HomeAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "workflows.list", async (w, t) =>
        {
            var workflows = await w.Db.Workflows.AsNoTracking().OrderBy(x => x.Name).ToListAsync(t);
            var last = await w.Db.WorkflowRuns.AsNoTracking()
                .GroupBy(r => r.WorkflowId)
                .Select(g => g.OrderByDescending(r => r.CreatedAt).Select(r => new { r.WorkflowId, r.Status, r.CreatedAt }).First())
                .ToListAsync(t);
            var byWorkflow = last.ToDictionary(l => l.WorkflowId);
            return new WorkflowHome(w.Org,
                [.. workflows.Select(x => new WorkflowSummary(x.Id, x.Name, WorkflowDefinition.Parse(x.StepsJson).Count, x.Cron, x.TimeZone, x.ScheduleEnabled,
                    x.WebhookSecretCiphertext is not null, x.OwnerEmail, byWorkflow.GetValueOrDefault(x.Id)?.Status, byWorkflow.GetValueOrDefault(x.Id)?.CreatedAt))],
                await AgentsAsync(w, t),
                await w.Db.WorkflowHttpHosts.AsNoTracking().OrderBy(h => h.Host).ToListAsync(t));
        }, ct);

    public Task<WorkflowDetail> GetAsync(Actor actor, OrgRef org, Guid workflowId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "workflows.open", async (w, t) =>
        {
            var workflow = await w.Db.Workflows.AsNoTracking().FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            IReadOnlyList<DateTimeOffset> next = [];
            if (workflow.ScheduleEnabled && workflow.Cron is { } cron)
            {
                next = WorkflowScheduler.NextFireTimes(cron, workflow.TimeZone, clock.GetUtcNow());
            }
            return new WorkflowDetail(w.Org, workflow, WorkflowDefinition.Parse(workflow.StepsJson), await AgentsAsync(w, t),
                await w.Db.WorkflowHttpHosts.AsNoTracking().OrderBy(h => h.Host).ToListAsync(t), next);
        }, ct);

    /// <summary>The next five fire times of a schedule, as the scheduler will fire it; throws <see cref="ScheduleRuleException"/> with the reason.</summary>
    public IReadOnlyList<DateTimeOffset> Preview(string? cron, string? timeZone) => WorkflowScheduler.NextFireTimes(cron, timeZone, clock.GetUtcNow());

    /// <summary>Checks and saves a workflow (new when <paramref name="workflowId"/> is null), then puts its schedule in the scheduler.</summary>
    public async Task<Guid> SaveAsync(Actor actor, OrgRef org, Guid? workflowId, WorkflowInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(input);
        var name = (input.Name ?? "").Trim();
        var description = (input.Description ?? "").Trim();
        var steps = (input.Steps ?? []).Select(s => s with { Name = (s.Name ?? "").Trim(), Text = s.Text ?? "", Members = s.Members ?? [] }).ToList();
        var problems = new List<WorkflowProblem>();
        if (name.Length is 0 or > WorkflowLimits.MaxName)
        {
            problems.Add(new WorkflowProblem(null, "name", $"A name is 1–{WorkflowLimits.MaxName} characters."));
        }
        if (description.Length > WorkflowLimits.MaxDescription)
        {
            problems.Add(new WorkflowProblem(null, "description", $"A description is at most {WorkflowLimits.MaxDescription:N0} characters."));
        }
        problems.AddRange(WorkflowDefinition.Check(steps));
        var cron = string.IsNullOrWhiteSpace(input.Cron) ? null : input.Cron.Trim();
        var zone = string.IsNullOrWhiteSpace(input.TimeZone) ? "UTC" : input.TimeZone.Trim();
        if (input.ScheduleEnabled && cron is null)
        {
            problems.Add(new WorkflowProblem(null, "cron", "Write the schedule's cron expression, or switch the schedule off."));
        }
        if (cron is not null)
        {
            try
            {
                WorkflowScheduler.Parse(cron, zone);
            }
            catch (ScheduleRuleException ex)
            {
                problems.Add(new WorkflowProblem(null, ex.Message.Contains("time zone", StringComparison.Ordinal) ? "time_zone" : "cron", ex.Message));
            }
        }
        if (problems.Count > 0)
        {
            throw new WorkflowInvalidException(problems);
        }

        var (id, orgId) = await operations.RunAsync(actor, org, OrgRole.Member, "workflows.save", async (w, t) =>
        {
            await CheckAgentsAsync(w, steps, t);
            await LockRunsAsync(w, t);
            if (workflowId is null && await w.Db.Workflows.CountAsync(t) >= Limits.MaxWorkflowsPerOrganization)
            {
                throw new WorkflowRuleException($"This organization has {Limits.MaxWorkflowsPerOrganization} workflows, the most it may have. Delete one first.");
            }
            if (input.ScheduleEnabled && cron is not null
                && await w.Db.Workflows.CountAsync(x => x.ScheduleEnabled && x.Id != workflowId, t) >= Limits.MaxSchedulesPerOrganization)
            {
                throw new WorkflowRuleException($"This organization has {Limits.MaxSchedulesPerOrganization} workflows on a schedule, the most it may have. Switch one off first.");
            }
            var now = clock.GetUtcNow();
            Workflow workflow;
            if (workflowId is { } existing)
            {
                workflow = await w.Db.Workflows.FirstOrDefaultAsync(x => x.Id == existing, t) ?? throw new WorkflowNotFoundException("Workflow");
                if (workflow.Version != input.Version)
                {
                    throw new WorkflowRuleException("Someone saved this workflow after you opened it. Reload it to see their changes, then save again.");
                }
            }
            else
            {
                workflow = new Workflow { Id = Guid.CreateVersion7(), OwnerUserId = actor.UserId, OwnerEmail = actor.Email, CreatedAt = now };
                w.Db.Workflows.Add(workflow);
            }
            // A workflow acts as its owner, so whoever saves it owns it: nobody's edits run in someone else's name.
            var previousOwner = workflow.OwnerUserId == actor.UserId ? null : workflow.OwnerEmail;
            workflow.OwnerUserId = actor.UserId;
            workflow.OwnerEmail = actor.Email;
            workflow.Name = name;
            workflow.Description = description;
            workflow.StepsJson = WorkflowDefinition.Serialize(steps);
            workflow.Cron = cron;
            workflow.TimeZone = zone;
            workflow.ScheduleEnabled = input.ScheduleEnabled && cron is not null;
            workflow.UpdatedAt = now;
            workflow.Version++;
            w.Audit(WorkflowAuditActions.Saved, workflow.Id.ToString(), new Dictionary<string, string?>
            {
                ["name"] = name,
                ["steps"] = string.Join(", ", steps.Select(s => $"{s.Name} ({s.Kind})")),
                ["schedule"] = workflow.ScheduleEnabled ? $"{cron} ({zone})" : "off",
                ["version"] = workflow.Version.ToString(CultureInfo.InvariantCulture),
                ["owner"] = actor.Email,
                ["previous_owner"] = previousOwner,
            });
            return (workflow.Id, w.Org.Id);
        }, ct);
        await scheduler.SyncScheduleAsync(orgId, id, cron, zone, input.ScheduleEnabled && cron is not null, ct);
        return id;
    }

    public async Task DeleteAsync(Actor actor, OrgRef org, Guid workflowId, CancellationToken ct)
    {
        var orgId = await operations.RunAsync(actor, org, OrgRole.Member, "workflows.delete", async (w, t) =>
        {
            var workflow = await w.Db.Workflows.FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            if (await w.Db.WorkflowRuns.AnyAsync(r => r.WorkflowId == workflowId && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running), t))
            {
                throw new WorkflowRuleException("A run of this workflow is still going. Cancel it first.");
            }
            w.Db.Workflows.Remove(workflow);
            w.Audit(WorkflowAuditActions.Deleted, workflowId.ToString(), new Dictionary<string, string?> { ["name"] = workflow.Name });
            return w.Org.Id;
        }, ct);
        await scheduler.RemoveScheduleAsync(orgId, workflowId, ct);
    }

    /// <summary>Run now: the run is stored (queued, attributed to the workflow's owner, started by the caller), then queued in the scheduler.</summary>
    public Task<Guid> RunNowAsync(Actor actor, OrgRef org, Guid workflowId, CancellationToken ct) =>
        QueueAsync(actor, org, workflowId, RunTriggers.Manual, null, null, ct);

    /// <summary>Runs again what a run ran (its own copy of the steps and its input), as a new run.</summary>
    public async Task<Guid> RerunAsync(Actor actor, OrgRef org, Guid runId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var (id, orgId) = await operations.RunAsync(actor, org, OrgRole.Member, "workflows.rerun", async (w, t) =>
        {
            var old = await w.Db.WorkflowRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, t) ?? throw new WorkflowNotFoundException("Run");
            var workflow = await w.Db.Workflows.AsNoTracking().FirstOrDefaultAsync(x => x.Id == old.WorkflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            if (await OwnerProblemAsync(w.Org.Id, workflow.OwnerUserId, t) is { } ownerProblem)
            {
                throw new WorkflowBusyException(ownerProblem, ownerGone: true);
            }
            if (await BusyReasonAsync(w, workflow.Id, t) is { } busy)
            {
                throw new WorkflowBusyException(busy);
            }
            var run = NewRun(workflow, RunTriggers.Rerun, null, old.Input, actor.UserId, WorkflowDefinition.Parse(old.StepsJson));
            run.RerunOf = old.Id;
            AddRun(w, run);
            return (run.Id, w.Org.Id);
        }, ct);
        await scheduler.QueueRunAsync(orgId, id, CancellationToken.None);
        return id;
    }

    public async Task CancelAsync(Actor actor, OrgRef org, Guid runId, CancellationToken ct)
    {
        await operations.RunAsync(actor, org, OrgRole.Member, "workflows.cancel", async (w, t) =>
        {
            var run = await w.Db.WorkflowRuns.FirstOrDefaultAsync(r => r.Id == runId, t) ?? throw new WorkflowNotFoundException("Run");
            if (RunStatus.IsFinal(run.Status))
            {
                throw new WorkflowRuleException("This run has already ended.");
            }
            run.CancelRequested = true;
            w.Audit(WorkflowAuditActions.RunCancelRequested, run.Id.ToString(), new Dictionary<string, string?> { ["workflow"] = run.WorkflowName });
            return true;
        }, ct);
        live.Cancel(runId);
    }

    public Task<IReadOnlyList<RunSummary>> RunsAsync(Actor actor, OrgRef org, Guid? workflowId, CancellationToken ct) =>
        operations.RunAsync<IReadOnlyList<RunSummary>>(actor, org, OrgRole.Viewer, "workflows.runs", async (w, t) =>
        {
            var query = w.Db.WorkflowRuns.AsNoTracking();
            if (workflowId is { } id)
            {
                query = query.Where(r => r.WorkflowId == id);
            }
            return await query.OrderByDescending(r => r.CreatedAt).Take(WorkflowLimits.MaxListedRuns)
                .Select(r => new RunSummary(r.Id, r.WorkflowId, r.WorkflowName, r.Trigger, r.Status, r.CreatedAt, r.StartedAt, r.EndedAt,
                    r.InputTokens + r.OutputTokens, r.CostUsd, r.Error))
                .ToListAsync(t);
        }, ct);

    /// <summary>
    /// <see cref="RunsAsync"/> with the organization it was read for and, for one workflow, its name: what the Runs page
    /// shows, in one access check. Throws <see cref="WorkflowNotFoundException"/> for a workflow that is not there.
    /// </summary>
    public Task<RunList> RunListAsync(Actor actor, OrgRef org, Guid? workflowId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "workflows.runs", async (w, t) =>
        {
            string? name = null;
            var query = w.Db.WorkflowRuns.AsNoTracking();
            if (workflowId is { } id)
            {
                name = await w.Db.Workflows.AsNoTracking().Where(x => x.Id == id).Select(x => x.Name).FirstOrDefaultAsync(t)
                    ?? throw new WorkflowNotFoundException("Workflow");
                query = query.Where(r => r.WorkflowId == id);
            }
            var runs = await query.OrderByDescending(r => r.CreatedAt).Take(WorkflowLimits.MaxListedRuns)
                .Select(r => new RunSummary(r.Id, r.WorkflowId, r.WorkflowName, r.Trigger, r.Status, r.CreatedAt, r.StartedAt, r.EndedAt,
                    r.InputTokens + r.OutputTokens, r.CostUsd, r.Error))
                .ToListAsync(t);
            return new RunList(w.Org, workflowId, name, runs);
        }, ct);

    public Task<RunDetail> RunAsync(Actor actor, OrgRef org, Guid runId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "workflows.run", async (w, t) =>
        {
            var run = await w.Db.WorkflowRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, t) ?? throw new WorkflowNotFoundException("Run");
            var steps = await w.Db.WorkflowRunSteps.AsNoTracking().Where(s => s.RunId == runId).OrderBy(s => s.Index).ToListAsync(t);
            return new RunDetail(w.Org, run, steps, live.IsLive(runId));
        }, ct);

    /// <summary>Admins: allows the organization's HTTP steps to call <paramref name="host"/> (exact, or <c>*.example.com</c> for its subdomains).</summary>
    public Task AllowHostAsync(Actor actor, OrgRef org, string host, CancellationToken ct)
    {
        var normal = NormalHost(host);
        return operations.RunAsync(actor, org, OrgRole.Admin, "workflows.host_allow", async (w, t) =>
        {
            if (await w.Db.WorkflowHttpHosts.AnyAsync(h => h.Host == normal, t))
            {
                return;
            }
            if (await w.Db.WorkflowHttpHosts.CountAsync(t) >= WorkflowLimits.MaxHosts)
            {
                throw new WorkflowRuleException($"The allow-list holds at most {WorkflowLimits.MaxHosts} hosts.");
            }
            w.Db.WorkflowHttpHosts.Add(new WorkflowHttpHost { Host = normal, AddedByUserId = actor.UserId, AddedAt = clock.GetUtcNow() });
            w.Audit(WorkflowAuditActions.HostAllowed, normal);
        }, ct);
    }

    public Task RemoveHostAsync(Actor actor, OrgRef org, string host, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "workflows.host_remove", async (w, t) =>
        {
            var row = await w.Db.WorkflowHttpHosts.FirstOrDefaultAsync(h => h.Host == host, t) ?? throw new WorkflowNotFoundException("Host");
            w.Db.WorkflowHttpHosts.Remove(row);
            w.Audit(WorkflowAuditActions.HostRemoved, host);
        }, ct);

    /// <summary>
    /// Admins: switches the workflow's webhook on with a new secret (replacing any old one at once), sealed in the
    /// vault. The secret is returned this once; afterwards only the address is shown.
    /// </summary>
    public async Task<WebhookSecret> EnableWebhookAsync(Actor actor, OrgRef org, Guid workflowId, string publicBaseUrl, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var secret = WebhookSignature.NewSecret();
        var context = await operations.RunAsync(actor, org, OrgRole.Admin, "workflows.webhook_check", async (w, t) =>
        {
            _ = await w.Db.Workflows.AsNoTracking().FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            return w.Org;
        }, ct);
        var sealedSecret = await vault.SealAsync(context.Id, WebhookSecretPurpose, workflowId, secret, ct);
        var path = await operations.RunAsync(actor, org, OrgRole.Admin, "workflows.webhook_enable", async (w, t) =>
        {
            var workflow = await w.Db.Workflows.FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            workflow.WebhookSecretCiphertext = sealedSecret.Ciphertext;
            workflow.WebhookSecretVersion = sealedSecret.KeyVersion;
            workflow.WebhookPath ??= workflow.Id.ToString("N");
            workflow.UpdatedAt = clock.GetUtcNow();
            w.Audit(WorkflowAuditActions.WebhookChanged, workflow.Id.ToString(), new Dictionary<string, string?> { ["webhook"] = "on, new secret" });
            return workflow.WebhookPath;
        }, ct);
        return new WebhookSecret(WebhookUrl(publicBaseUrl, context.Slug, path), secret);
    }

    public Task DisableWebhookAsync(Actor actor, OrgRef org, Guid workflowId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "workflows.webhook_disable", async (w, t) =>
        {
            var workflow = await w.Db.Workflows.FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            workflow.WebhookSecretCiphertext = null;
            workflow.WebhookSecretVersion = null;
            workflow.UpdatedAt = clock.GetUtcNow();
            w.Audit(WorkflowAuditActions.WebhookChanged, workflow.Id.ToString(), new Dictionary<string, string?> { ["webhook"] = "off" });
        }, ct);

    public static string WebhookUrl(string publicBaseUrl, string slug, string path) =>
        $"{(publicBaseUrl ?? "").TrimEnd('/')}/hooks/{Uri.EscapeDataString(slug)}/{path}";

    /// <summary>
    /// An inbound webhook call. Answers 404 for an address that is not a workflow with its webhook on, 401 when the
    /// signature is missing, malformed, stale (outside 5 minutes) or wrong, 409 when this delivery (its idempotency
    /// key, or its signature when it has none) was already taken, and 202 with the run's id once the run is stored
    /// and queued. Nothing runs before the signature is checked; every refusal past the address is audited.
    /// </summary>
    public async Task<WebhookAnswer> ReceiveWebhookAsync(string slug, string path, string? timestamp, string? signature, string? idempotencyKey,
        byte[] body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        Guid organizationId;
        await using (var db = await platform.CreateDbContextAsync(ct))
        {
            var id = await db.Organizations.AsNoTracking().Where(o => o.Slug == slug).Select(o => (Guid?)o.Id).FirstOrDefaultAsync(ct);
            if (id is null)
            {
                return new WebhookAnswer(404, "No such webhook.");
            }
            organizationId = id.Value;
        }
        var found = await operations.RunAsSystemAsync(organizationId, "webhook", async (w, t) =>
            await w.Db.Workflows.AsNoTracking().Where(x => x.WebhookPath == path && x.WebhookSecretCiphertext != null)
                .Select(x => new { x.Id, x.WebhookSecretCiphertext, x.WebhookSecretVersion }).FirstOrDefaultAsync(t), ct);
        if (found is null)
        {
            return new WebhookAnswer(404, "No such webhook.");
        }
        var secret = await vault.OpenAsync(organizationId, WebhookSecretPurpose, found.Id, new SealedSecret(found.WebhookSecretCiphertext!, found.WebhookSecretVersion ?? 0), ct);
        var verdict = WebhookSignature.Verify(WebhookSignature.SecretBytes(secret), timestamp, signature, body, clock.GetUtcNow());
        if (verdict != WebhookVerdict.Valid)
        {
            await RefuseAsync(organizationId, found.Id, verdict.ToString().ToLowerInvariant(), ct);
            return new WebhookAnswer(401, verdict switch
            {
                WebhookVerdict.Unsigned => $"Sign the request: {WebhookSignature.TimestampHeader} and {WebhookSignature.SignatureHeader} are required.",
                WebhookVerdict.Stale => "The timestamp is more than 5 minutes from the server's clock.",
                WebhookVerdict.Malformed => "The timestamp or signature is not in the expected form.",
                _ => "The signature does not match.",
            });
        }
        // A delivery is named by the signature it must carry (computed here, so however the header is written, the
        // same timestamp and body name the same delivery) and by its idempotency key when it gives one: either seen
        // before is a replay. The key is not signed, so it can only add to what the signature already names.
        var givenKey = idempotencyKey?.Trim();
        var delivery = "webhook:sig:" + WebhookSignature.Sign(WebhookSignature.SecretBytes(secret),
            long.Parse(timestamp!, NumberStyles.None, CultureInfo.InvariantCulture), body)[WebhookSignature.Scheme.Length..];
        var key = string.IsNullOrEmpty(givenKey) ? delivery
            : "webhook:key:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(givenKey)))[..40] + "|" + delivery;
        if (givenKey is { Length: > WebhookSignature.MaxIdempotencyKeyLength })
        {
            return new WebhookAnswer(400, $"{WebhookSignature.IdempotencyHeader} is at most {WebhookSignature.MaxIdempotencyKeyLength} characters.");
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return new WebhookAnswer(400, "The body is not UTF-8 text.");
        }
        try
        {
            var runId = await QueueAsSystemAsync(organizationId, found.Id, RunTriggers.Webhook, key, text, ct);
            return new WebhookAnswer(202, "Accepted.", runId);
        }
        catch (DuplicateTriggerException)
        {
            await RefuseAsync(organizationId, found.Id, "replayed", ct);
            return new WebhookAnswer(409, "This delivery was already received.");
        }
        catch (WorkflowBusyException ex) when (ex.OwnerGone)
        {
            await RefuseAsync(organizationId, found.Id, "owner_inactive", ct);
            return new WebhookAnswer(403, ex.Message);
        }
        catch (WorkflowBusyException ex)
        {
            await RefuseAsync(organizationId, found.Id, "busy", ct);
            return new WebhookAnswer(429, ex.Message + " Deliver it again later.");
        }
    }

    /// <summary>A schedule's firing: one run per fire time, whichever node fired it first.</summary>
    public async Task QueueScheduledRunAsync(Guid organizationId, Guid workflowId, DateTimeOffset scheduled, DateTimeOffset fired, CancellationToken ct)
    {
        try
        {
            await QueueAsSystemAsync(organizationId, workflowId, RunTriggers.Schedule, "schedule:" + WorkflowScheduler.Utc(scheduled), null, ct,
                lagMs: (long)(fired - scheduled).TotalMilliseconds);
        }
        catch (DuplicateTriggerException)
        {
            logger.LogWarning("Workflow {WorkflowId} firing {Scheduled} was already taken by another node", workflowId, scheduled);
        }
        catch (Exception ex) when (ex is WorkflowNotFoundException or ScheduleOffException)
        {
            // Deleted or switched off while its trigger fired: nothing to run, and no trigger should remain.
            await scheduler.RemoveScheduleAsync(organizationId, workflowId, ct);
        }
    }

    private async Task<Guid> QueueAsync(Actor actor, OrgRef org, Guid workflowId, string trigger, string? key, string? input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var (id, orgId) = await operations.RunAsync(actor, org, OrgRole.Member, "workflows.run_now", async (w, t) =>
        {
            var workflow = await w.Db.Workflows.AsNoTracking().FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
            if (await OwnerProblemAsync(w.Org.Id, workflow.OwnerUserId, t) is { } ownerProblem)
            {
                throw new WorkflowBusyException(ownerProblem, ownerGone: true);
            }
            if (await BusyReasonAsync(w, workflow.Id, t) is { } busy)
            {
                throw new WorkflowBusyException(busy);
            }
            var run = NewRun(workflow, trigger, key, input, actor.UserId, WorkflowDefinition.Parse(workflow.StepsJson));
            AddRun(w, run);
            return (run.Id, w.Org.Id);
        }, ct);
        await scheduler.QueueRunAsync(orgId, id, CancellationToken.None);
        return id;
    }

    private async Task<Guid> QueueAsSystemAsync(Guid organizationId, Guid workflowId, string trigger, string key, string? input, CancellationToken ct, long? lagMs = null)
    {
        (Guid Id, string? Busy, bool OwnerGone) stored;
        try
        {
            stored = await operations.RunAsSystemAsync(organizationId, trigger, async (w, t) =>
            {
                var workflow = await w.Db.Workflows.AsNoTracking().FirstOrDefaultAsync(x => x.Id == workflowId, t) ?? throw new WorkflowNotFoundException("Workflow");
                var run = NewRun(workflow, trigger, key, input, null, WorkflowDefinition.Parse(workflow.StepsJson));
                var busy = await BusyReasonAsync(w, workflow.Id, t);
                // A delivery or firing already taken is a replay whatever the limits say. A key may hold several names
                // of one delivery ("key:…|sig:…"); any one seen before is enough. Under the run lock, so the check
                // and the insert cannot interleave with another caller's; the unique index is the last word.
                foreach (var part in key.Split('|'))
                {
                    if (await w.Db.WorkflowRuns.AnyAsync(r => r.WorkflowId == workflow.Id
                        && (r.TriggerKey == part || r.TriggerKey!.StartsWith(part + "|") || r.TriggerKey.EndsWith("|" + part)), t))
                    {
                        throw new DuplicateTriggerException();
                    }
                }
                if (trigger == RunTriggers.Schedule && (!workflow.ScheduleEnabled || workflow.Cron is null))
                {
                    // Switched off after its trigger was read: nothing to run, and the trigger should go.
                    throw new ScheduleOffException();
                }
                var ownerGone = false;
                if (await OwnerProblemAsync(w.Org.Id, workflow.OwnerUserId, t) is { } ownerProblem)
                {
                    busy = ownerProblem;
                    ownerGone = true;
                }
                if (busy is not null && trigger != RunTriggers.Schedule)
                {
                    // Nothing stored: the sender may deliver it again once runs have ended.
                    return (run.Id, busy, ownerGone);
                }
                AddRun(w, run, lagMs);
                if (busy is not null)
                {
                    // A firing beyond a limit is kept, as skipped, so the runs page shows it did not run and why; its
                    // key still stops another node from running the same firing.
                    var now = clock.GetUtcNow();
                    run.Status = RunStatus.Skipped;
                    run.EndedAt = now;
                    run.Error = "Not run. " + busy;
                    foreach (var step in w.Db.WorkflowRunSteps.Local.Where(x => x.RunId == run.Id))
                    {
                        step.Status = StepStatus.Skipped;
                    }
                    w.Audit(WorkflowAuditActions.RunRefused, run.Id.ToString(), new Dictionary<string, string?>
                    {
                        ["workflow"] = workflow.Name,
                        ["trigger"] = trigger,
                        ["reason"] = busy,
                    }, AuditOutcome.Denied);
                }
                return (run.Id, busy, ownerGone);
            }, ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new DuplicateTriggerException();
        }
        if (stored.Busy is not null)
        {
            logger.LogWarning("Workflow {WorkflowId} ({Trigger}) was not run: {Reason}", workflowId, trigger, stored.Busy);
            return trigger == RunTriggers.Schedule ? stored.Id : throw new WorkflowBusyException(stored.Busy, stored.OwnerGone);
        }
        await scheduler.QueueRunAsync(organizationId, stored.Id, CancellationToken.None);
        return stored.Id;
    }

    /// <summary>
    /// Takes this organization's run lock for the rest of the unit of work, so two callers cannot both fit under a
    /// limit that only one fits (advisory locks span the database, so the key carries the organization).
    /// </summary>
    private static async Task LockRunsAsync(TenantWork w, CancellationToken ct)
    {
        await using var cmd = w.Db.CreateCommand("select pg_advisory_xact_lock(hashtext('agentspace.workflow.runs'), hashtext(@org))");
        var org = cmd.CreateParameter();
        org.ParameterName = "org";
        org.Value = w.Org.Id.ToString("N");
        cmd.Parameters.Add(org);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Why a new run of this workflow may not start now (a limit on runs at once), or null; takes the run lock.</summary>
    private async Task<string?> BusyReasonAsync(TenantWork w, Guid workflowId, CancellationToken ct)
    {
        await LockRunsAsync(w, ct);
        var active = await w.Db.WorkflowRuns.Where(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running)
            .GroupBy(r => r.WorkflowId == workflowId).Select(g => new { Mine = g.Key, Count = g.Count() }).ToListAsync(ct);
        var mine = active.Where(a => a.Mine).Sum(a => a.Count);
        var all = active.Sum(a => a.Count);
        if (mine >= Limits.MaxActiveRunsPerWorkflow)
        {
            return $"This workflow already has {mine} runs queued or running (at most {Limits.MaxActiveRunsPerWorkflow} at once).";
        }
        return all >= Limits.MaxActiveRunsPerOrganization
            ? $"This organization already has {all} workflow runs queued or running (at most {Limits.MaxActiveRunsPerOrganization} at once)."
            : null;
    }

    private WorkflowRun NewRun(Workflow workflow, string trigger, string? key, string? input, Guid? startedBy, IReadOnlyList<WorkflowStep> steps) => new()
    {
        Id = Guid.CreateVersion7(),
        WorkflowId = workflow.Id,
        WorkflowName = workflow.Name,
        Trigger = trigger,
        TriggerKey = key,
        Status = RunStatus.Queued,
        StepsJson = WorkflowDefinition.Serialize(steps),
        Input = input,
        OwnerUserId = workflow.OwnerUserId,
        OwnerEmail = workflow.OwnerEmail,
        StartedByUserId = startedBy,
        CreatedAt = clock.GetUtcNow(),
    };

    /// <summary>The run, a pending row per step, and its audit entry, in the caller's unit of work.</summary>
    private static void AddRun(TenantWork w, WorkflowRun run, long? lagMs = null)
    {
        w.Db.WorkflowRuns.Add(run);
        var steps = WorkflowDefinition.Parse(run.StepsJson);
        for (var i = 0; i < steps.Count; i++)
        {
            w.Db.WorkflowRunSteps.Add(new WorkflowRunStep { RunId = run.Id, Index = i, Name = steps[i].Name, Kind = steps[i].Kind, Status = StepStatus.Pending });
        }
        var details = new Dictionary<string, string?>
        {
            ["workflow"] = run.WorkflowName,
            ["trigger"] = run.Trigger,
            ["owner"] = run.OwnerEmail,
        };
        if (run.TriggerKey is { } key)
        {
            details["key"] = key.Length > 80 ? key[..80] : key;
        }
        if (lagMs is { } lag)
        {
            details["fire_lag_ms"] = lag.ToString(CultureInfo.InvariantCulture);
        }
        w.Audit(WorkflowAuditActions.RunQueued, run.Id.ToString(), details);
    }

    private Task RefuseAsync(Guid organizationId, Guid workflowId, string reason, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, "webhook", (w, _) =>
        {
            w.Audit(WorkflowAuditActions.WebhookRefused, workflowId.ToString(), new Dictionary<string, string?> { ["reason"] = reason }, AuditOutcome.Denied);
            return Task.CompletedTask;
        }, ct);

    private static async Task CheckAgentsAsync(TenantWork w, IReadOnlyList<WorkflowStep> steps, CancellationToken ct)
    {
        var ids = steps.SelectMany(s => s.Members.Append(s.AgentId ?? Guid.Empty)).Where(id => id != Guid.Empty).Distinct().ToList();
        var known = await w.Db.Agents.AsNoTracking().Where(a => ids.Contains(a.Id)).Select(a => a.Id).ToListAsync(ct);
        var problems = new List<WorkflowProblem>();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            if (step.AgentId is { } agent && !known.Contains(agent))
            {
                problems.Add(new WorkflowProblem(i, "agent", $"Step {i + 1}: that agent is not in this organization."));
            }
            if (step.Members.Any(m => !known.Contains(m)))
            {
                problems.Add(new WorkflowProblem(i, "members", $"Step {i + 1}: a member agent is not in this organization."));
            }
        }
        if (problems.Count > 0)
        {
            throw new WorkflowInvalidException(problems);
        }
    }

    private static async Task<IReadOnlyList<WorkflowAgentOption>> AgentsAsync(TenantWork w, CancellationToken ct) =>
        await w.Db.Agents.AsNoTracking().OrderBy(a => a.Name)
            .Select(a => new WorkflowAgentOption(a.Id, a.Name, a.ProviderId == null, a.PausedAt != null)).ToListAsync(ct);

    /// <summary>A host as the allow-list keeps it: lower case, ASCII (IDN), no port, no trailing dot; <c>*.</c> allowed in front.</summary>
    internal static string NormalHost(string? host)
    {
        var text = (host ?? "").Trim().TrimEnd('.').ToLowerInvariant();
        var wildcard = text.StartsWith("*.", StringComparison.Ordinal);
        var bare = wildcard ? text[2..] : text;
        string ascii;
        try
        {
            ascii = new IdnMapping().GetAscii(bare);
        }
        catch (ArgumentException)
        {
            throw new WorkflowRuleException("That is not a host name.");
        }
        if (ascii.Length is 0 or > WorkflowLimits.MaxHost || Uri.CheckHostName(ascii) is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || ascii.Contains('/') || ascii.Contains(':') && Uri.CheckHostName(ascii) != UriHostNameType.IPv6)
        {
            throw new WorkflowRuleException("Write a host name such as api.example.com (no scheme, path or port), or *.example.com for its subdomains.");
        }
        return wildcard ? "*." + ascii : ascii;
    }

    private sealed class DuplicateTriggerException : Exception;

    private sealed class ScheduleOffException : Exception;

    /// <summary>
    /// Why the workflow's owner cannot have a run made in their name now (no longer a member, only a Viewer, or
    /// suspended), or null. Runs act as the owner, so their automation ends with their access; saving the workflow
    /// makes whoever saves it the owner.
    /// </summary>
    private async Task<string?> OwnerProblemAsync(Guid organizationId, Guid ownerUserId, CancellationToken ct)
    {
        await using var db = await platform.CreateDbContextAsync(ct);
        var role = await db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId && m.UserId == ownerUserId)
            .Select(m => (OrgRole?)m.Role).FirstOrDefaultAsync(ct);
        var suspended = await db.Users.AsNoTracking().Where(u => u.Id == ownerUserId).Select(u => u.SuspendedAt != null).FirstOrDefaultAsync(ct);
        return role is null ? "The workflow's owner is no longer a member of this organization; a member must save it again to own it."
            : role < OrgRole.Member ? "The workflow's owner is now a Viewer; a member must save it again to own it."
            : suspended ? "The workflow's owner is suspended; a member must save it again to own it."
            : null;
    }
}
