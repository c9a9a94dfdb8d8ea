namespace AgentSpace.Limits;

/// <summary>The audit actions the cost guard and the Usage page write.</summary>
public static class LimitsAuditActions
{
    /// <summary>A run was stopped before its next model call (cost cap, agent budget or organization quota).</summary>
    public const string RunHalted = "limits.run_halted";
    /// <summary>An agent used up its monthly budget and answers nothing until resumed.</summary>
    public const string AgentPaused = "limits.agent_paused";
    public const string AgentResumed = "limits.agent_resumed";
    public const string QuotaChanged = "limits.quota_changed";
}

/// <summary>Which path called the model (<see cref="UsageRecord.Source"/>).</summary>
public static class UsageSources
{
    public const string Chat = "chat";
    /// <summary>The operator's <c>agent ask</c> command: one run counts as one message against the daily limit.</summary>
    public const string Admin = "admin";
    public const string Workflow = "workflow";
    public const string Boardroom = "boardroom";

    public static bool IsKnown(string? source) => source is Chat or Admin or Workflow or Boardroom;
}
