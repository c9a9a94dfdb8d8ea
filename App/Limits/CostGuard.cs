using System.Buffers.Binary;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AgentSpace.Data;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Limits;

/// <summary>
/// The limits on every path that calls a model, read from the usage ledger. Each check is one short
/// unit of work and one query under an advisory lock; a decision that changes something (a pause, a halt,
/// a reservation) is written, and audited, in the same transaction. All periods are UTC calendar days and months.
/// </summary>
/// <remarks>
/// <para>
/// The daily message limit counts answers: the assistant turns in the agent's conversations since UTC
/// midnight, whatever started them (Send, Retry, Regenerate, <c>agent ask</c>) and however many model calls
/// each took, and the agent's boardroom turns. A turn a limit refused (refused before any provider answered, so it carries no provider) does
/// not count; an answer the output filter withheld does, since the model was called for it.
/// <see cref="CheckTurnAsync"/> runs in the unit of work that writes the turn, under a lock per agent held
/// until that unit commits, so turns started at the same moment are counted one after another and a limit
/// of N admits N answers a day.
/// </para>
/// <para>
/// Spend: <see cref="CheckCallAsync"/> runs under a lock per organization and counts, besides the ledger,
/// the projected cost of every call in flight (<see cref="UsageReservation"/>); a call that passes reserves
/// its own projection in the same transaction and <see cref="RecordAsync"/> swaps it for the actual cost.
/// So every call is admitted only if ledger + calls in flight + its projection stays within the run cap,
/// the agent's monthly budget and the organization's quota, and spend passes a limit only by what admitted
/// calls cost beyond their projections (a provider counting more tokens than projected), or by calls
/// running longer than <see cref="ReservationLifetime"/>, whose reservations stop counting.
/// </para>
/// </remarks>
public sealed class CostGuard(TenantOperation operations, TimeProvider clock, IOptions<LimitsOptions> options) : ICostGuard
{
    private const string CallReason = "cost guard: call check";
    private const string RecordReason = "cost guard: usage recorded";
    private const string ReleaseReason = "cost guard: reservation released";

    public const decimal WarnAt = 0.5m;
    public const decimal SlowAt = 0.8m;

    /// <summary>How long a call's reservation counts: a node that died mid-call must not hold its reservation for ever.</summary>
    public static readonly TimeSpan ReservationLifetime = TimeSpan.FromMinutes(15);

    public async Task<TurnRefusal?> CheckTurnAsync(TenantWork work, Guid agentId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        var periods = new UsagePeriods(clock.GetUtcNow());
        await LockAsync(work.Db, $"turns:{work.Org.Id:N}:{agentId:N}", ct);
        var s = await ReadStateAsync(work.Db, agentId, runId: null, periods, ct);
        if (s.AgentName is null)
        {
            return new TurnRefusal("This agent no longer exists.");
        }
        if (s.PausedAt is not null)
        {
            return Paused(s.PausedReason);
        }
        if (s.MonthlyBudget is { } budget && s.AgentMonthUsd >= budget)
        {
            var reason = BudgetReason(budget);
            await PauseAsync(work, agentId, s.AgentName, reason, s.AgentMonthUsd, periods.Now, ct);
            return Paused(reason);
        }
        if (s.DailyLimit is { } limit && s.AnswersToday >= limit)
        {
            var noun = limit == 1 ? "message" : "messages";
            return new TurnRefusal(
                $"This agent has reached its limit of {limit.ToString(CultureInfo.InvariantCulture)} {noun} per day. The limit resets at {UsageFormat.UtcTime(periods.NextDay)}.");
        }
        if (s.OrgQuota is { } quota && s.OrgMonthUsd >= quota)
        {
            return new TurnRefusal(QuotaMessage(quota, s.OrgMonthUsd, periods));
        }
        return null;
    }

    public Task<SpendDecision> CheckCallAsync(Guid organizationId, RunBudget run, decimal projectedUsd, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfNegative(projectedUsd);
        return operations.RunAsSystemAsync(organizationId, CallReason, (work, token) => CheckCallAsync(work, run, projectedUsd, token), ct);
    }

    public async Task<SpendDecision> CheckCallAsync(TenantWork work, RunBudget run, decimal projectedUsd, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfNegative(projectedUsd);
        var periods = new UsagePeriods(clock.GetUtcNow());
        // One check at a time per organization, each seeing the reservations of those before it. The lock and the
        // removal of reservations past their lifetime go in one round trip.
        await using (var cmd = work.Db.CreateCommand("select pg_advisory_xact_lock(@key); delete from usage_reservations where created_at < @expired")
            .With("key", LockKey($"spend:{work.Org.Id:N}"), DbType.Int64)
            .With("expired", periods.Now - ReservationLifetime, DbType.DateTimeOffset))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        var s = await ReadStateAsync(work.Db, run.AgentId, run.RunId, periods, ct);
        var decision = Decide(work, s, run, projectedUsd);
        if (decision.Tier == SpendTier.Halt || projectedUsd == 0)
        {
            return decision;
        }
        var reservation = new UsageReservation
        {
            Id = Guid.CreateVersion7(periods.Now),
            RunId = run.RunId,
            AgentId = run.AgentId,
            ProjectedUsd = projectedUsd,
            CreatedAt = periods.Now,
        };
        work.Db.Set<UsageReservation>().Add(reservation);
        await work.Db.SaveChangesAsync(ct);
        return decision with { ReservationId = reservation.Id };
    }

    private SpendDecision Decide(TenantWork work, GuardState s, RunBudget run, decimal projectedUsd)
    {
        // A run's own calls are sequential, so its reservations are normally released already; a leftover one counts as spent.
        var spent = s.RunSpentUsd + s.RunReservedUsd;
        var total = spent + projectedUsd;

        SpendDecision Halt(string why, string message)
        {
            work.Audit(LimitsAuditActions.RunHalted, s.AgentName ?? run.RunId.ToString(), new Dictionary<string, string?>
            {
                ["why"] = why,
                ["run_id"] = run.RunId.ToString(),
                ["agent_id"] = run.AgentId?.ToString(),
                ["spent_usd"] = spent.ToString(CultureInfo.InvariantCulture),
                ["projected_usd"] = projectedUsd.ToString(CultureInfo.InvariantCulture),
                ["cap_usd"] = run.CapUsd?.ToString(CultureInfo.InvariantCulture),
            });
            return new SpendDecision(SpendTier.Halt, spent, run.CapUsd, TimeSpan.Zero, message);
        }

        if (run.AgentId is not null && s.PausedAt is not null)
        {
            return Halt("agent_paused", Paused(s.PausedReason).Reason);
        }
        if (s.MonthlyBudget is { } budget && (s.AgentMonthUsd >= budget || s.AgentMonthUsd + s.AgentReservedUsd + projectedUsd > budget))
        {
            return Halt("agent_budget",
                $"Halted: this call would take the agent past its monthly budget of {UsageFormat.Usd(budget)} ({UsageFormat.Usd(s.AgentMonthUsd)} spent this month{InFlight(s.AgentReservedUsd)}).");
        }
        if (s.OrgQuota is { } quota && (s.OrgMonthUsd >= quota || s.OrgMonthUsd + s.OrgReservedUsd + projectedUsd > quota))
        {
            return Halt("org_quota",
                $"Halted: this call would take the organization past its monthly quota of {UsageFormat.Usd(quota)} ({UsageFormat.Usd(s.OrgMonthUsd)} spent this month{InFlight(s.OrgReservedUsd)}).");
        }
        if (run.CapUsd is not { } cap)
        {
            return new SpendDecision(SpendTier.Ok, spent, null, TimeSpan.Zero, null);
        }
        // A cap of zero allows only free calls (the offline provider).
        if (cap <= 0 ? total > 0 : total >= cap)
        {
            return Halt("run_cap", $"Halted by cost cap: {UsageFormat.Usd(spent)} of {UsageFormat.Usd(cap)} spent on this run.");
        }
        var used = cap <= 0 ? 0 : total / cap;
        if (used >= SlowAt)
        {
            return new SpendDecision(SpendTier.Slow, spent, cap, options.Value.SlowDelay,
                $"This run is close to its cost cap: {UsageFormat.Usd(spent)} of {UsageFormat.Usd(cap)} spent ({UsageFormat.Percent(used)} with the next call). Slowing down between steps.");
        }
        if (used >= WarnAt)
        {
            return new SpendDecision(SpendTier.Warn, spent, cap, TimeSpan.Zero,
                $"This run has used {UsageFormat.Percent(used)} of its {UsageFormat.Usd(cap)} cost cap ({UsageFormat.Usd(spent)} spent).");
        }
        return new SpendDecision(SpendTier.Ok, spent, cap, TimeSpan.Zero, null);
    }

    private static string InFlight(decimal reserved) => reserved > 0 ? $", {UsageFormat.Usd(reserved)} more held by calls in progress" : "";

    public Task RecordAsync(Guid organizationId, UsageEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!UsageSources.IsKnown(entry.Source))
        {
            throw new ArgumentException($"Unknown usage source '{entry.Source}'.", nameof(entry));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(entry.InputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(entry.OutputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(entry.CostUsd);
        var now = clock.GetUtcNow();
        var periods = new UsagePeriods(now);
        return operations.RunAsSystemAsync(organizationId, RecordReason, async (work, token) =>
        {
            // The actual cost replaces the projection in one commit: a check never sees both, or neither.
            if (entry.ReservationId is { } reservationId)
            {
                await work.Db.Set<UsageReservation>().Where(r => r.Id == reservationId).ExecuteDeleteAsync(token);
            }
            work.Db.Usage.Add(new UsageRecord
            {
                Id = Guid.CreateVersion7(now),
                OccurredAt = now,
                Source = entry.Source,
                RunId = entry.RunId,
                AgentId = entry.AgentId,
                ConversationId = entry.ConversationId,
                MessageId = entry.MessageId,
                UserId = entry.UserId,
                ProviderLabel = Truncate(entry.ProviderLabel, 100),
                Model = Truncate(entry.Model, 200),
                InputTokens = entry.InputTokens,
                OutputTokens = entry.OutputTokens,
                CostUsd = entry.CostUsd,
                Estimated = entry.Estimated,
            });
            await work.Db.SaveChangesAsync(token);
            if (entry.AgentId is not { } agentId)
            {
                return;
            }
            var s = await ReadStateAsync(work.Db, agentId, runId: null, periods, token);
            if (s.AgentName is not null && s.PausedAt is null && s.MonthlyBudget is { } budget && s.AgentMonthUsd >= budget)
            {
                await PauseAsync(work, agentId, s.AgentName, BudgetReason(budget), s.AgentMonthUsd, now, token);
            }
        }, ct);
    }

    public Task ReleaseAsync(Guid organizationId, Guid reservationId, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, ReleaseReason, (work, token) =>
            work.Db.Set<UsageReservation>().Where(r => r.Id == reservationId).ExecuteDeleteAsync(token), ct);

    internal static string BudgetReason(decimal budget) => $"Monthly budget of {UsageFormat.Usd(budget)} reached";

    private static TurnRefusal Paused(string? reason) =>
        new($"This agent is paused: {(string.IsNullOrWhiteSpace(reason) ? "paused by an Admin" : reason.TrimEnd('.'))}. An Admin can resume it on the Usage page.");

    private static string QuotaMessage(decimal quota, decimal spent, UsagePeriods periods) =>
        $"The organization's monthly quota of {UsageFormat.Usd(quota)} is used up ({UsageFormat.Usd(spent)} spent this month). " +
        $"It resets at {UsageFormat.UtcTime(periods.NextMonth)}; an Admin can raise it on the Usage page.";

    /// <summary>Pauses the agent unless something else paused it first; only the pause that took effect is audited.</summary>
    private static async Task PauseAsync(TenantWork work, Guid agentId, string agentName, string reason, decimal monthUsd, DateTimeOffset now, CancellationToken ct)
    {
        var paused = await work.Db.Agents
            .Where(a => a.Id == agentId && a.PausedAt == null)
            .ExecuteUpdateAsync(u => u.SetProperty(a => a.PausedAt, now).SetProperty(a => a.PausedReason, reason), ct);
        if (paused == 1)
        {
            work.Audit(LimitsAuditActions.AgentPaused, agentName, new Dictionary<string, string?>
            {
                ["agent_id"] = agentId.ToString(),
                ["reason"] = reason,
                ["month_spent_usd"] = monthUsd.ToString(CultureInfo.InvariantCulture),
            });
        }
    }

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];

    private sealed record GuardState(
        decimal RunSpentUsd, decimal RunReservedUsd, decimal OrgMonthUsd, decimal OrgReservedUsd, decimal? OrgQuota,
        decimal AgentMonthUsd, decimal AgentReservedUsd, long AnswersToday,
        string? AgentName, decimal? MonthlyBudget, int? DailyLimit, DateTimeOffset? PausedAt, string? PausedReason);

    /// <summary>A transaction-scoped advisory lock, namespaced so it cannot meet another feature's lock.</summary>
    private static async Task LockAsync(TenantDbContext db, string scope, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("select pg_advisory_xact_lock(@key)").With("key", LockKey(scope), DbType.Int64);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static long LockKey(string scope) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("agentspace.cost-guard:" + scope)));

    /// <summary>Everything a decision needs, in one statement (one snapshot: a reservation and the usage that replaced it are never both seen).</summary>
    private static async Task<GuardState> ReadStateAsync(TenantDbContext db, Guid? agentId, Guid? runId, UsagePeriods periods, CancellationToken ct)
    {
        // An answer counts unless a limit refused it before any provider was reached (such a turn names no provider).
        const string sql = """
            select
              (select coalesce(sum(cost_usd), 0) from usage_records where run_id = @run),
              (select coalesce(sum(projected_usd), 0) from usage_reservations where run_id = @run and created_at >= @live),
              (select coalesce(sum(cost_usd), 0) from usage_records where occurred_at >= @month),
              (select coalesce(sum(projected_usd), 0) from usage_reservations where created_at >= @live),
              (select monthly_quota_usd from org_limit_settings where id = 1),
              (select coalesce(sum(cost_usd), 0) from usage_records where agent_id = @agent and occurred_at >= @month),
              (select coalesce(sum(projected_usd), 0) from usage_reservations where agent_id = @agent and created_at >= @live),
              (select count(*) from chat_messages m join conversations c on c.id = m.conversation_id
                where c.agent_id = @agent and m.role = 'assistant' and m.created_at >= @day
                  and not (m.status = 'refused' and m.provider_label is null))
              + (select count(*) from boardroom_turns b where b.agent_id = @agent and b.created_at >= @day and b.kind <> 'note'),
              a.name, a.monthly_budget_usd, a.daily_message_limit, a.paused_at, a.paused_reason
            from (select 1) as one
            left join agents a on a.id = @agent
            """;
        await using var cmd = db.CreateCommand(sql)
            .With("run", runId, DbType.Guid)
            .With("agent", agentId, DbType.Guid)
            .With("day", periods.DayStart, DbType.DateTimeOffset)
            .With("month", periods.MonthStart, DbType.DateTimeOffset)
            .With("live", periods.Now - ReservationLifetime, DbType.DateTimeOffset);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var state = new GuardState(
            reader.GetDecimal(0), reader.GetDecimal(1), reader.GetDecimal(2), reader.GetDecimal(3), reader.NullableDecimal(4),
            reader.GetDecimal(5), reader.GetDecimal(6), reader.GetInt64(7),
            reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.NullableDecimal(9),
            reader.IsDBNull(10) ? null : reader.GetInt32(10),
            reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
            reader.IsDBNull(12) ? null : reader.GetString(12));
        return state;
    }
}
