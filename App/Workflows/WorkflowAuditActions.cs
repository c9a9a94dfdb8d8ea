namespace AgentSpace.Workflows;

/// <summary>Workflow actions in the organization's audit chain.</summary>
public static class WorkflowAuditActions
{
    public const string Saved = "workflow.saved";
    public const string Deleted = "workflow.deleted";
    /// <summary>The webhook was switched on, its secret replaced, or switched off.</summary>
    public const string WebhookChanged = "workflow.webhook_changed";
    /// <summary>A webhook call was refused (unsigned, stale, bad signature, replayed); the reason is in the details.</summary>
    public const string WebhookRefused = "workflow.webhook_refused";
    public const string HostAllowed = "workflow.host_allowed";
    public const string HostRemoved = "workflow.host_removed";
    /// <summary>A run was queued: by a member (Run now, Re-run), a schedule firing or a webhook delivery.</summary>
    public const string RunQueued = "workflow.run_queued";
    /// <summary>A schedule firing or webhook delivery was not run: a limit on runs at once was reached (which one is in the details).</summary>
    public const string RunRefused = "workflow.run_refused";
    public const string RunStarted = "workflow.run_started";
    /// <summary>A node took up a run again after the one running it went away.</summary>
    public const string RunResumed = "workflow.run_resumed";
    public const string RunCancelRequested = "workflow.run_cancel_requested";
    /// <summary>A run ended: status, tokens, cost, error.</summary>
    public const string RunEnded = "workflow.run_ended";
    /// <summary>A side effect was delivered (or given up on): kind, target, idempotency key, attempt.</summary>
    public const string EffectDelivered = "workflow.effect_delivered";
}
