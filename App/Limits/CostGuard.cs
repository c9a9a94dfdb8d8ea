using System.Data;
using System.Data.Common;
using System.Globalization;
using AgentSpace.Data;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Limits;

/// <summary>
/// The limits on every path that calls a model, read from the usage ledger. Each check is one short system
/// unit of work and one query; a decision that changes something (a pause, a halt) is audited in the same
/// transaction. All periods are UTC calendar days and months.
/// </summary>
/// <remarks>
/// The daily message limit counts the user turns (<c>chat_messages</c> with role <c>user</c>) in the agent's
/// conversations since UTC midnight: a person's messages and the operator's <c>agent ask</c> questions alike
/// (the command writes its question as a user turn too), each once however many model calls it took.
/// <see cref="CheckTurnAsync"/> is asked before the new turn is written, so a limit of N admits N turns a day.
/// </remarks>
public sealed class CostGuard(TenantOperation operations, TimeProvider clock, IOptions<LimitsOptions> options) : ICostGuard
{
    private const string TurnReason = "cost guard: turn check";
    private const string CallReason = "cost guard: call check";
    private const string RecordReason = "cost guard: usage recorded";

    public const decimal WarnAt = 0.5m;
    public const decimal SlowAt = 0.8m;

    public Task<TurnRefusal?> CheckTurnAsync(Guid organizationId, Guid agentId, CancellationToken ct)
    {
        var periods = new UsagePeriods(clock.GetUtcNow());
        return operations.RunAsSystemAsync(organizationId, TurnReason, async (work, token) =>
        {
            var s = await ReadStateAsync(work.Db, agentId, runId: null, periods, token);
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
                await PauseAsync(work, agentId, s.AgentName, reason, s.AgentMonthUsd, periods.Now, token);
                return Paused(reason);
            }
            if (s.DailyLimit is { } limit && s.TurnsToday >= limit)
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
        }, ct);
    }

    public Task<SpendDecision> CheckCallAsync(Guid organizationId, RunBudget run, decimal projectedUsd, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentOutOfRangeException.ThrowIfNegative(projectedUsd);
        var periods = new UsagePeriods(clock.GetUtcNow());
        return operations.RunAsSystemAsync(organizationId, CallReason, async (work, token) =>
        {
            var s = await ReadStateAsync(work.Db, run.AgentId, run.RunId, periods, token);
            var spent = s.RunSpentUsd;
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
            if (s.MonthlyBudget is { } budget && (s.AgentMonthUsd >= budget || s.AgentMonthUsd + projectedUsd > budget))
            {
                return Halt("agent_budget",
                    $"Halted: this call would take the agent past its monthly budget of {UsageFormat.Usd(budget)} ({UsageFormat.Usd(s.AgentMonthUsd)} spent this month).");
            }
            if (s.OrgQuota is { } quota && (s.OrgMonthUsd >= quota || s.OrgMonthUsd + projectedUsd > quota))
            {
                return Halt("org_quota",
                    $"Halted: this call would take the organization past its monthly quota of {UsageFormat.Usd(quota)} ({UsageFormat.Usd(s.OrgMonthUsd)} spent this month).");
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
        }, ct);
    }

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
        decimal RunSpentUsd, decimal OrgMonthUsd, decimal? OrgQuota, decimal AgentMonthUsd, long TurnsToday,
        string? AgentName, decimal? MonthlyBudget, int? DailyLimit, DateTimeOffset? PausedAt, string? PausedReason);

    /// <summary>Everything a decision needs, in one statement.</summary>
    private static async Task<GuardState> ReadStateAsync(TenantDbContext db, Guid? agentId, Guid? runId, UsagePeriods periods, CancellationToken ct)
    {
        const string sql = """
            select
              (select coalesce(sum(cost_usd), 0) from usage_records where run_id = @run),
              (select coalesce(sum(cost_usd), 0) from usage_records where occurred_at >= @month),
              (select monthly_quota_usd from org_limit_settings where id = 1),
              (select coalesce(sum(cost_usd), 0) from usage_records where agent_id = @agent and occurred_at >= @month),
              (select count(*) from chat_messages m join conversations c on c.id = m.conversation_id
                where c.agent_id = @agent and m.role = 'user' and m.created_at >= @day),
              a.name, a.monthly_budget_usd, a.daily_message_limit, a.paused_at, a.paused_reason
            from (select 1) as one
            left join agents a on a.id = @agent
            """;
        await using var cmd = db.CreateCommand(sql)
            .With("run", runId, DbType.Guid)
            .With("agent", agentId, DbType.Guid)
            .With("day", periods.DayStart, DbType.DateTimeOffset)
            .With("month", periods.MonthStart, DbType.DateTimeOffset);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var state = new GuardState(
            reader.GetDecimal(0), reader.GetDecimal(1), reader.NullableDecimal(2), reader.GetDecimal(3), reader.GetInt64(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.NullableDecimal(6),
            reader.IsDBNull(7) ? null : reader.GetInt32(7),
            reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
            reader.IsDBNull(9) ? null : reader.GetString(9));
        return state;
    }
}
