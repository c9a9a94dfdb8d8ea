namespace AgentSpace.Limits;

/// <summary>Where a run stands against its cost cap, checked before every model call.</summary>
public enum SpendTier
{
    Ok,
    /// <summary>At or past 50% of the cap: tell the person.</summary>
    Warn,
    /// <summary>At or past 80%: wait between tool-loop steps.</summary>
    Slow,
    /// <summary>The next call would reach 100%: do not make it.</summary>
    Halt,
}

/// <summary>The answer to "may this run make its next model call?".</summary>
public sealed record SpendDecision(SpendTier Tier, decimal SpentUsd, decimal? CapUsd, TimeSpan Delay, string? Message);

/// <summary>One run (a chat answer, an admin ask, a workflow step, a boardroom session) as the guard sees it.</summary>
public sealed record RunBudget(Guid RunId, Guid? AgentId, decimal? CapUsd);

/// <summary>One model call's usage, recorded after the call.</summary>
public sealed record UsageEntry(
    string Source, Guid RunId, Guid? AgentId, Guid? ConversationId, Guid? MessageId, Guid? UserId,
    string ProviderLabel, string Model, int InputTokens, int OutputTokens, decimal CostUsd, bool Estimated);

/// <summary>Why a turn may not start (paused agent, daily message limit, monthly budget, organization quota).</summary>
public sealed record TurnRefusal(string Reason);

/// <summary>
/// Limits on every path that calls a model. Each method runs its own short tenant unit of work:
/// never call one inside another unit of work.
/// </summary>
public interface ICostGuard
{
    /// <summary>Before a turn: paused agent, the agent's daily message limit, monthly budget, the organization quota. Null: go ahead.</summary>
    Task<TurnRefusal?> CheckTurnAsync(Guid organizationId, Guid agentId, CancellationToken ct);

    /// <summary>Before each model call, with the projected cost of that call.</summary>
    Task<SpendDecision> CheckCallAsync(Guid organizationId, RunBudget run, decimal projectedUsd, CancellationToken ct);

    /// <summary>After each model call; pauses the agent when its monthly budget is used up.</summary>
    Task RecordAsync(Guid organizationId, UsageEntry entry, CancellationToken ct);
}
