using System.Data;
using System.Globalization;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Limits;

/// <summary>One agent's spend and tokens per day over the period shown.</summary>
public sealed record AgentDailyUsage(Guid? AgentId, string AgentName, IReadOnlyList<decimal> CostUsd, IReadOnlyList<long> Tokens);

/// <summary>
/// A conversation's spend over the period. The title is shown only to the person the conversation belongs
/// to: everyone in the organization can read the Usage page, and titles come from what people wrote.
/// </summary>
public sealed record ConversationCost(Guid ConversationId, string AgentName, string? Title, bool Mine, bool Exists, int Calls, long Tokens, decimal CostUsd);

/// <summary>An agent's limits and where it stands this month.</summary>
public sealed record AgentBudget(
    Guid AgentId, string Name, decimal MonthSpentUsd, decimal? MonthlyBudgetUsd, int? DailyMessageLimit, decimal? RunCostCapUsd,
    DateTimeOffset? PausedAt, string? PausedReason)
{
    public decimal? RemainingUsd => MonthlyBudgetUsd is { } budget ? Math.Max(0, budget - MonthSpentUsd) : null;

    public bool BudgetUsedUp => MonthlyBudgetUsd is { } budget && MonthSpentUsd >= budget;
}

/// <summary>Everything the Usage page shows, read in one unit of work.</summary>
public sealed record UsageView(
    OrgContext Org,
    IReadOnlyList<DateOnly> Days,
    IReadOnlyList<AgentDailyUsage> Daily,
    IReadOnlyList<ConversationCost> TopConversations,
    IReadOnlyList<AgentBudget> Agents,
    decimal OrgMonthSpentUsd,
    decimal? OrgMonthlyQuotaUsd,
    DateTimeOffset NextMonth)
{
    public bool HasUsage => Daily.Count > 0;

    public decimal? OrgRemainingUsd => OrgMonthlyQuotaUsd is { } quota ? Math.Max(0, quota - OrgMonthSpentUsd) : null;
}

/// <summary>The agent asked for is not in this organization (or no longer exists).</summary>
public sealed class UsageAgentNotFoundException() : UserFacingException("That agent was not found in this organization.", 404);

/// <summary>The Usage page: spend per agent per day, top conversations, budgets and quota; resuming paused agents.</summary>
public sealed class UsageService(TenantOperation operations, TimeProvider clock)
{
    public const int Days = 30;
    public const int TopConversationCount = 10;
    public const decimal MaxQuotaUsd = 1_000_000m;

    public Task<UsageView> GetAsync(Actor actor, string slug, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var periods = new UsagePeriods(clock.GetUtcNow());
        var today = DateOnly.FromDateTime(periods.DayStart.UtcDateTime);
        var days = Enumerable.Range(0, Days).Select(i => today.AddDays(i - Days + 1)).ToList();
        var from = periods.DayStart.AddDays(1 - Days);
        return operations.RunAsync(actor, slug, OrgRole.Viewer, "usage.read", async (work, token) =>
        {
            var db = work.Db;
            var agents = await db.Agents.AsNoTracking().OrderBy(a => a.Name)
                .Select(a => new { a.Id, a.Name, a.MonthlyBudgetUsd, a.DailyMessageLimit, a.RunCostCapUsd, a.PausedAt, a.PausedReason })
                .ToListAsync(token);
            var names = agents.ToDictionary(a => a.Id, a => a.Name);

            var daily = await DailyAsync(db, from, days, names, token);
            var top = await TopConversationsAsync(db, actor.UserId, from, names, token);

            var monthStart = periods.MonthStart;
            var monthByAgent = await db.Usage.AsNoTracking()
                .Where(u => u.OccurredAt >= monthStart && u.AgentId != null)
                .GroupBy(u => u.AgentId)
                .Select(g => new { AgentId = g.Key!.Value, Cost = g.Sum(u => u.CostUsd) })
                .ToDictionaryAsync(x => x.AgentId, x => x.Cost, token);
            var orgMonth = await db.Usage.AsNoTracking().Where(u => u.OccurredAt >= monthStart).SumAsync(u => u.CostUsd, token);
            var quota = await db.LimitSettings.AsNoTracking().Where(s => s.Id == OrgLimitSettings.SingletonId).Select(s => s.MonthlyQuotaUsd).FirstOrDefaultAsync(token);

            var budgets = agents.Select(a => new AgentBudget(a.Id, a.Name, monthByAgent.GetValueOrDefault(a.Id), a.MonthlyBudgetUsd,
                a.DailyMessageLimit, a.RunCostCapUsd, a.PausedAt, a.PausedReason)).ToList();
            return new UsageView(work.Org, days, daily, top, budgets, orgMonth, quota, periods.NextMonth);
        }, ct);
    }

    /// <summary>
    /// Lets a paused agent answer again (Admins). Returns what to tell the Admin: when the agent's monthly
    /// budget is still used up, its next call pauses it again, and the message says so.
    /// </summary>
    public Task<string> ResumeAgentAsync(Actor actor, string slug, Guid agentId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var periods = new UsagePeriods(clock.GetUtcNow());
        return operations.RunAsync(actor, slug, OrgRole.Admin, "usage.resume_agent", async (work, token) =>
        {
            var agent = await work.Db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new UsageAgentNotFoundException();
            if (agent.PausedAt is null)
            {
                return $"{agent.Name} is not paused.";
            }
            var reason = agent.PausedReason;
            agent.PausedAt = null;
            agent.PausedReason = null;
            agent.UpdatedAt = periods.Now;
            work.Audit(LimitsAuditActions.AgentResumed, agent.Name, new Dictionary<string, string?>
            {
                ["agent_id"] = agent.Id.ToString(),
                ["paused_reason"] = reason,
            });
            var monthStart = periods.MonthStart;
            var spent = await work.Db.Usage.Where(u => u.AgentId == agentId && u.OccurredAt >= monthStart).SumAsync(u => u.CostUsd, token);
            return agent.MonthlyBudgetUsd is { } budget && spent >= budget
                ? $"{agent.Name} was resumed, but its monthly budget of {UsageFormat.Usd(budget)} is still used up: raise the budget on the agent, or it pauses again on its next message."
                : $"{agent.Name} was resumed.";
        }, ct);
    }

    /// <summary>Sets (or, with null, removes) the organization's monthly quota across all agents (Admins).</summary>
    public Task SetMonthlyQuotaAsync(Actor actor, string slug, decimal? quotaUsd, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (quotaUsd is { } q && (q <= 0 || q > MaxQuotaUsd || decimal.Round(q, 2) != q))
        {
            throw new OrgRuleException($"Enter a quota between $0.01 and {UsageFormat.Usd(MaxQuotaUsd)} in dollars and cents, or leave it empty for no quota.");
        }
        var now = clock.GetUtcNow();
        return operations.RunAsync(actor, slug, OrgRole.Admin, "usage.set_quota", async (work, token) =>
        {
            var settings = await work.Db.LimitSettings.FirstOrDefaultAsync(s => s.Id == OrgLimitSettings.SingletonId, token);
            var previous = settings?.MonthlyQuotaUsd;
            if (previous == quotaUsd)
            {
                return;
            }
            if (settings is null)
            {
                work.Db.LimitSettings.Add(new OrgLimitSettings { Id = OrgLimitSettings.SingletonId, MonthlyQuotaUsd = quotaUsd, UpdatedAt = now });
            }
            else
            {
                settings.MonthlyQuotaUsd = quotaUsd;
                settings.UpdatedAt = now;
            }
            work.Audit(LimitsAuditActions.QuotaChanged, "monthly_quota", new Dictionary<string, string?>
            {
                ["from_usd"] = previous?.ToString(CultureInfo.InvariantCulture),
                ["to_usd"] = quotaUsd?.ToString(CultureInfo.InvariantCulture),
            });
        }, ct);
    }

    private static async Task<List<AgentDailyUsage>> DailyAsync(TenantDbContext db, DateTimeOffset from, List<DateOnly> days,
        Dictionary<Guid, string> names, CancellationToken ct)
    {
        const string sql = """
            select agent_id, (occurred_at at time zone 'UTC')::date as day, sum(cost_usd), sum(input_tokens::bigint + output_tokens)
            from usage_records
            where occurred_at >= @from
            group by 1, 2
            """;
        var index = days.Select((d, i) => (d, i)).ToDictionary(x => x.d, x => x.i);
        var series = new Dictionary<Guid, (decimal[] Cost, long[] Tokens)>();
        await using (var cmd = db.CreateCommand(sql).With("from", from, DbType.DateTimeOffset))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                // Usage without an agent (or of a deleted one) is kept together under Guid.Empty.
                var agent = reader.IsDBNull(0) ? Guid.Empty : reader.GetGuid(0);
                if (!names.ContainsKey(agent))
                {
                    agent = Guid.Empty;
                }
                var day = reader.GetFieldValue<DateOnly>(1);
                if (!index.TryGetValue(day, out var i))
                {
                    continue;
                }
                if (!series.TryGetValue(agent, out var s))
                {
                    s = (new decimal[days.Count], new long[days.Count]);
                    series[agent] = s;
                }
                s.Cost[i] += reader.GetDecimal(2);
                s.Tokens[i] += reader.GetInt64(3);
            }
        }
        return [.. series
            .Select(kv => new AgentDailyUsage(kv.Key == Guid.Empty ? null : kv.Key,
                kv.Key == Guid.Empty ? "Other (no agent or deleted agents)" : names[kv.Key], kv.Value.Cost, kv.Value.Tokens))
            .OrderByDescending(a => a.CostUsd.Sum()).ThenBy(a => a.AgentName, StringComparer.Ordinal)];
    }

    private static async Task<List<ConversationCost>> TopConversationsAsync(TenantDbContext db, Guid me, DateTimeOffset from,
        Dictionary<Guid, string> names, CancellationToken ct)
    {
        const string sql = """
            select u.conversation_id, c.agent_id, c.user_id, c.title, count(*)::int, sum(u.input_tokens::bigint + u.output_tokens), sum(u.cost_usd)
            from usage_records u
            left join conversations c on c.id = u.conversation_id
            where u.conversation_id is not null and u.occurred_at >= @from
            group by u.conversation_id, c.agent_id, c.user_id, c.title
            order by sum(u.cost_usd) desc, u.conversation_id
            limit @top
            """;
        var rows = new List<ConversationCost>();
        await using var cmd = db.CreateCommand(sql).With("from", from, DbType.DateTimeOffset).With("top", TopConversationCount, DbType.Int32);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var agentId = reader.IsDBNull(1) ? (Guid?)null : reader.GetGuid(1);
            var mine = !reader.IsDBNull(2) && reader.GetGuid(2) == me;
            var title = reader.IsDBNull(3) ? null : reader.GetString(3);
            rows.Add(new ConversationCost(
                reader.GetGuid(0),
                agentId is { } a && names.TryGetValue(a, out var name) ? name : "Deleted agent",
                mine ? title : null,
                mine,
                agentId is not null,
                reader.GetInt32(4),
                reader.GetInt64(5),
                reader.GetDecimal(6)));
        }
        return rows;
    }
}
