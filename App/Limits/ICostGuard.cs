using AgentSpace.Tenancy;

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

/// <summary>
/// The answer to "may this run make its next model call?". When the call may go ahead and costs anything,
/// <paramref name="ReservationId"/> holds its projected cost against the budgets until the call's usage is
/// recorded with it (<see cref="UsageEntry.ReservationId"/>) or it is released (<see cref="ICostGuard.ReleaseAsync"/>).
/// </summary>
public sealed record SpendDecision(SpendTier Tier, decimal SpentUsd, decimal? CapUsd, TimeSpan Delay, string? Message, Guid? ReservationId = null);

/// <summary>One run (a chat answer, an admin ask, a workflow step, a boardroom session) as the guard sees it.</summary>
public sealed record RunBudget(Guid RunId, Guid? AgentId, decimal? CapUsd);

/// <summary>One model call's usage, recorded after the call, with the reservation its check made (released in the same transaction).</summary>
public sealed record UsageEntry(
    string Source, Guid RunId, Guid? AgentId, Guid? ConversationId, Guid? MessageId, Guid? UserId,
    string ProviderLabel, string Model, int InputTokens, int OutputTokens, decimal CostUsd, bool Estimated, Guid? ReservationId = null);

/// <summary>Why a turn may not start (paused agent, daily message limit, monthly budget, organization quota).</summary>
public sealed record TurnRefusal(string Reason);

/// <summary>
/// Limits on every path that calls a model. <see cref="CheckTurnAsync"/> runs inside the caller's unit of
/// work (the one that writes the turn); the other methods each run their own short tenant unit of work:
/// never call them inside another unit of work.
/// </summary>
public interface ICostGuard
{
    /// <summary>
    /// Before a turn, inside the unit of work that writes it: paused agent, the agent's daily message limit,
    /// monthly budget, the organization quota. Null: go ahead. Turns of one agent are checked one at a time
    /// until that unit of work ends, so the caller must write the turn's answer (the assistant turn, refused
    /// or streaming) in <paramref name="work"/>: the next check counts it.
    /// </summary>
    Task<TurnRefusal?> CheckTurnAsync(TenantWork work, Guid agentId, CancellationToken ct);

    /// <summary>
    /// Before each model call, with the projected cost of that call. A call that may go ahead holds its
    /// projected cost (<see cref="SpendDecision.ReservationId"/>) until <see cref="RecordAsync"/> or
    /// <see cref="ReleaseAsync"/>: the caller must do one of them on every path, including failure and Stop.
    /// </summary>
    Task<SpendDecision> CheckCallAsync(Guid organizationId, RunBudget run, decimal projectedUsd, CancellationToken ct);

    /// <summary>
    /// The same check inside the caller's unit of work (a turn's first call, checked where the turn is written):
    /// the reservation commits, or not, with that work. The organization's spend checks wait on each other until it ends.
    /// </summary>
    Task<SpendDecision> CheckCallAsync(TenantWork work, RunBudget run, decimal projectedUsd, CancellationToken ct);

    /// <summary>After each model call; releases its reservation; pauses the agent when its monthly budget is used up.</summary>
    Task RecordAsync(Guid organizationId, UsageEntry entry, CancellationToken ct);

    /// <summary>Releases a reservation whose call recorded no usage (it failed or was stopped before any answer came back).</summary>
    Task ReleaseAsync(Guid organizationId, Guid reservationId, CancellationToken ct);
}
