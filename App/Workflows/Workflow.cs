using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Workflows;

/// <summary>What a workflow may hold and what a run keeps.</summary>
public static class WorkflowLimits
{
    public const int MaxName = 120;
    public const int MaxDescription = 1000;
    public const int MaxSteps = 20;
    public const int MaxStepName = 40;
    /// <summary>A step's text (prompt, query, question, email body, request body) before templating.</summary>
    public const int MaxStepText = 20_000;
    public const int MaxUrl = 2000;
    public const int MaxSubject = 200;
    /// <summary>What a step's output keeps; later steps see at most this much of it.</summary>
    public const int MaxOutput = 20_000;
    /// <summary>A step's text once its references are filled in.</summary>
    public const int MaxRendered = 200_000;
    public const int MaxError = 2000;
    public const int MaxCron = 120;
    public const int MaxHosts = 50;
    public const int MaxHost = 253;
    /// <summary>The largest webhook body accepted; a larger one is refused with 413 before anything is stored.</summary>
    public const int MaxWebhookBody = 256 * 1024;
    public const int MaxListedRuns = 200;
}

/// <summary>
/// How much workflows may do unwatched (<c>Workflows:Limits</c>). Scheduled and webhook runs start without anyone
/// pressing a button, so these bound them: a firing or delivery beyond a limit is not run, and says so.
/// </summary>
public sealed class WorkflowRunLimitOptions
{
    public const string Section = "Workflows:Limits";

    /// <summary>Runs queued or running at once in one organization.</summary>
    public int MaxActiveRunsPerOrganization { get; set; } = 50;

    /// <summary>Runs of one workflow queued or running at once, so a schedule that fires while its last runs still go does not pile them up.</summary>
    public int MaxActiveRunsPerWorkflow { get; set; } = 2;

    public int MaxWorkflowsPerOrganization { get; set; } = 200;

    /// <summary>Calls to one webhook address from one client address per minute; more are answered 429 before anything is read.</summary>
    public int MaxWebhookCallsPerAddressPerMinute { get; set; } = 120;

    /// <summary>Workflows with their schedule on, per organization.</summary>
    public int MaxSchedulesPerOrganization { get; set; } = 50;
}

/// <summary>The kinds of step a workflow is made of.</summary>
public static class StepKinds
{
    /// <summary>Sends a prompt to an agent, as a chat by the workflow's owner would.</summary>
    public const string Agent = "agent";
    /// <summary>Searches the organization's ready documents and outputs the best passages.</summary>
    public const string Knowledge = "knowledge";
    /// <summary>Convenes a boardroom session and outputs its decision.</summary>
    public const string Boardroom = "boardroom";
    /// <summary>Emails the organization's members (through the outbox).</summary>
    public const string Email = "email";
    /// <summary>Sends an HTTP request to an allow-listed host (through the outbox).</summary>
    public const string Http = "http";
    /// <summary>Continues or stops the run depending on whether a text contains a pattern.</summary>
    public const string Condition = "condition";

    public static readonly IReadOnlyList<string> All = [Agent, Knowledge, Boardroom, Email, Http, Condition];
}

/// <summary>What started a run.</summary>
public static class RunTriggers
{
    public const string Manual = "manual";
    public const string Schedule = "schedule";
    public const string Webhook = "webhook";
    public const string Rerun = "rerun";
}

/// <summary>A run's status.</summary>
public static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    /// <summary>A condition step stopped the run on purpose.</summary>
    public const string Stopped = "stopped";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
    /// <summary>Never started: a limit on runs at once was reached when it fired (the error says which).</summary>
    public const string Skipped = "skipped";

    public static bool IsFinal(string status) => status is Succeeded or Stopped or Failed or Cancelled or Skipped;
}

/// <summary>A step's status within a run.</summary>
public static class StepStatus
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    /// <summary>Not run: an earlier step failed or stopped the run, or it was cancelled.</summary>
    public const string Skipped = "skipped";
}

/// <summary>
/// An ordered list of named steps with its triggers. The steps are kept as JSON (<see cref="WorkflowDefinition"/>);
/// a run copies them, so editing a workflow never changes a run that has started.
/// </summary>
public sealed class Workflow
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    /// <summary>Whom its runs are attributed to: their role, budgets and limits apply to every run.</summary>
    public Guid OwnerUserId { get; set; }
    public string OwnerEmail { get; set; } = "";
    public string StepsJson { get; set; } = "[]";
    /// <summary>Standard 5-field cron, or null for no schedule.</summary>
    public string? Cron { get; set; }
    /// <summary>IANA time zone the cron is read in.</summary>
    public string TimeZone { get; set; } = "UTC";
    public bool ScheduleEnabled { get; set; }
    /// <summary>The webhook secret, sealed by the vault; null when the webhook is off.</summary>
    public byte[]? WebhookSecretCiphertext { get; set; }
    public int? WebhookSecretVersion { get; set; }
    /// <summary>The random part of the webhook's address (not a secret; the signature is what authenticates).</summary>
    public string? WebhookPath { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Raised on every save: a save from an older copy is refused.</summary>
    public int Version { get; set; }
}

/// <summary>One run of a workflow: a row before it starts, with its own copy of the steps.</summary>
public sealed class WorkflowRun
{
    public Guid Id { get; set; }
    public Guid WorkflowId { get; set; }
    public string WorkflowName { get; set; } = "";
    public string Trigger { get; set; } = RunTriggers.Manual;
    /// <summary>Unique per workflow when set: a schedule's fire time or a webhook's idempotency key, so a firing or a delivery makes one run.</summary>
    public string? TriggerKey { get; set; }
    public string Status { get; set; } = RunStatus.Queued;
    public string StepsJson { get; set; } = "[]";
    /// <summary>A webhook's body (text), available to steps as <c>{{input}}</c>.</summary>
    public string? Input { get; set; }
    public Guid OwnerUserId { get; set; }
    public string OwnerEmail { get; set; } = "";
    /// <summary>Who pressed Run now or Re-run; null for schedules and webhooks.</summary>
    public Guid? StartedByUserId { get; set; }
    public Guid? RerunOf { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public string? Error { get; set; }
    public int InputTokens { get; set; }
    public int OutputTokens { get; set; }
    public decimal CostUsd { get; set; }
    /// <summary>How many times a node took the run up (more than one after a crash).</summary>
    public int Attempts { get; set; }
    public string? Node { get; set; }
    public bool CancelRequested { get; set; }
}

/// <summary>One step of one run; idempotent on (run, step): a step that succeeded is never run again.</summary>
public sealed class WorkflowRunStep
{
    public Guid RunId { get; set; }
    public int Index { get; set; }
    public string Name { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Status { get; set; } = StepStatus.Pending;
    public string? Output { get; set; }
    public string? Error { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public int InputTokens { get; set; }
    public int OutputTokens { get; set; }
    public decimal CostUsd { get; set; }
}

/// <summary>A side effect (an email, an HTTP request) written with its step's state and delivered at least once with its idempotency key.</summary>
public sealed class OutboxMessage
{
    public Guid Id { get; set; }
    public Guid RunId { get; set; }
    public int StepIndex { get; set; }
    public string Kind { get; set; } = "";
    public string PayloadJson { get; set; } = "{}";
    /// <summary>Sent with the effect (Idempotency-Key header, Message-ID) so a receiver can tell a redelivery.</summary>
    public string IdempotencyKey { get; set; } = "";
    public string Status { get; set; } = OutboxStatus.Pending;
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }
    /// <summary>What delivery returned (an HTTP status and body), shown as the step's output.</summary>
    public string? Result { get; set; }
    public string? LastError { get; set; }
}

public static class OutboxStatus
{
    public const string Pending = "pending";
    public const string Sent = "sent";
    /// <summary>Given up after its attempts, or refused (a host no longer allowed): never retried.</summary>
    public const string Failed = "failed";
}

/// <summary>A host the organization's HTTP steps may call (an Admin's allow-list).</summary>
public sealed class WorkflowHttpHost
{
    public string Host { get; set; } = "";
    public Guid AddedByUserId { get; set; }
    public DateTimeOffset AddedAt { get; set; }
}

internal sealed class WorkflowConfiguration : IEntityTypeConfiguration<Workflow>
{
    public void Configure(EntityTypeBuilder<Workflow> builder)
    {
        builder.ToTable("workflows");
        builder.HasKey(w => w.Id);
        builder.Property(w => w.Name).HasMaxLength(WorkflowLimits.MaxName);
        builder.Property(w => w.Description).HasMaxLength(WorkflowLimits.MaxDescription);
        builder.Property(w => w.OwnerEmail).HasMaxLength(320);
        builder.Property(w => w.StepsJson).HasColumnType("jsonb");
        builder.Property(w => w.Cron).HasMaxLength(WorkflowLimits.MaxCron);
        builder.Property(w => w.TimeZone).HasMaxLength(100);
        builder.Property(w => w.WebhookSecretCiphertext).HasColumnType("bytea");
        builder.Property(w => w.WebhookPath).HasMaxLength(64);
        builder.Property(w => w.Version).IsConcurrencyToken();
        builder.HasIndex(w => w.WebhookPath).IsUnique();
        builder.HasIndex(w => w.Name);
    }
}

internal sealed class WorkflowRunConfiguration : IEntityTypeConfiguration<WorkflowRun>
{
    public void Configure(EntityTypeBuilder<WorkflowRun> builder)
    {
        builder.ToTable("workflow_runs");
        builder.HasKey(r => r.Id);
        builder.Property(r => r.WorkflowName).HasMaxLength(WorkflowLimits.MaxName);
        builder.Property(r => r.Trigger).HasMaxLength(20);
        builder.Property(r => r.TriggerKey).HasMaxLength(260);
        builder.Property(r => r.Status).HasMaxLength(20);
        builder.Property(r => r.StepsJson).HasColumnType("jsonb");
        builder.Property(r => r.OwnerEmail).HasMaxLength(320);
        builder.Property(r => r.Error).HasMaxLength(WorkflowLimits.MaxError);
        builder.Property(r => r.Node).HasMaxLength(200);
        builder.Property(r => r.CostUsd).HasPrecision(18, 6);
        builder.HasOne<Workflow>().WithMany().HasForeignKey(r => r.WorkflowId).OnDelete(DeleteBehavior.Cascade);
        // One run per schedule firing and per webhook delivery, whichever node got there first.
        builder.HasIndex(r => new { r.WorkflowId, r.TriggerKey }).IsUnique().HasFilter("trigger_key is not null");
        builder.HasIndex(r => new { r.WorkflowId, r.CreatedAt });
        builder.HasIndex(r => r.Status).HasFilter("status in ('queued', 'running')");
    }
}

internal sealed class WorkflowRunStepConfiguration : IEntityTypeConfiguration<WorkflowRunStep>
{
    public void Configure(EntityTypeBuilder<WorkflowRunStep> builder)
    {
        builder.ToTable("workflow_run_steps");
        builder.HasKey(s => new { s.RunId, s.Index });
        builder.Property(s => s.Name).HasMaxLength(WorkflowLimits.MaxStepName);
        builder.Property(s => s.Kind).HasMaxLength(20);
        builder.Property(s => s.Status).HasMaxLength(20);
        builder.Property(s => s.Output).HasMaxLength(WorkflowLimits.MaxOutput);
        builder.Property(s => s.Error).HasMaxLength(WorkflowLimits.MaxError);
        builder.Property(s => s.CostUsd).HasPrecision(18, 6);
        builder.HasOne<WorkflowRun>().WithMany().HasForeignKey(s => s.RunId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.ToTable("outbox");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Kind).HasMaxLength(20);
        builder.Property(m => m.PayloadJson).HasColumnType("jsonb");
        builder.Property(m => m.IdempotencyKey).HasMaxLength(120);
        builder.Property(m => m.Status).HasMaxLength(20);
        builder.Property(m => m.Result).HasMaxLength(WorkflowLimits.MaxOutput);
        builder.Property(m => m.LastError).HasMaxLength(WorkflowLimits.MaxError);
        builder.HasOne<WorkflowRun>().WithMany().HasForeignKey(m => m.RunId).OnDelete(DeleteBehavior.Cascade);
        // One effect per (run, step): a step written again after a crash finds its message instead of adding one.
        builder.HasIndex(m => new { m.RunId, m.StepIndex }).IsUnique();
        builder.HasIndex(m => m.IdempotencyKey).IsUnique();
        builder.HasIndex(m => m.NextAttemptAt).HasFilter("status = 'pending'");
    }
}

internal sealed class WorkflowHttpHostConfiguration : IEntityTypeConfiguration<WorkflowHttpHost>
{
    public void Configure(EntityTypeBuilder<WorkflowHttpHost> builder)
    {
        builder.ToTable("workflow_http_hosts");
        builder.HasKey(h => h.Host);
        builder.Property(h => h.Host).HasMaxLength(WorkflowLimits.MaxHost);
    }
}
