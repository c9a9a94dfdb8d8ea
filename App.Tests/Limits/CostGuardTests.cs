using AgentSpace.Chat;
using AgentSpace.Data;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace AgentSpace.Tests.Limits;

/// <summary>What the cost guard lets a run, an agent and an organization spend, read from the real ledger.</summary>
public sealed class CostGuardTests(LimitsServices app) : IClassFixture<LimitsServices>
{
    [Theory]
    [InlineData("0.09", SpendTier.Ok)]    // 49% with the next call
    [InlineData("0.10", SpendTier.Warn)]  // 50%
    [InlineData("0.39", SpendTier.Warn)]  // 79%
    [InlineData("0.40", SpendTier.Slow)]  // 80%
    [InlineData("0.59", SpendTier.Slow)]  // 99%
    [InlineData("0.60", SpendTier.Halt)]  // 100%
    public async Task CheckCall_SpentPlusProjectedAtShareOfCap_DecidesTier(string projected, SpendTier expected)
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, runCap: 1m);
        var run = Guid.NewGuid();
        await app.RecordAsync(org, run, agent, 0.25m);
        await app.RecordAsync(org, run, agent, 0.15m);

        var decision = await app.CheckCallAsync(org, run, agent, 1m, decimal.Parse(projected, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(expected, decision.Tier);
        Assert.Equal(0.40m, decision.SpentUsd);
        Assert.Equal(1m, decision.CapUsd);
        Assert.Equal(expected == SpendTier.Slow ? LimitsServices.SlowDelay : TimeSpan.Zero, decision.Delay);
        switch (expected)
        {
            case SpendTier.Ok:
                Assert.Null(decision.Message);
                break;
            case SpendTier.Warn:
                Assert.Contains("of its $1.00 cost cap", decision.Message, StringComparison.Ordinal);
                break;
            case SpendTier.Slow:
                Assert.Contains("Slowing down", decision.Message, StringComparison.Ordinal);
                break;
            case SpendTier.Halt:
                Assert.Equal("Halted by cost cap: $0.40 of $1.00 spent on this run.", decision.Message);
                break;
        }
    }

    [Fact]
    public async Task CheckCall_NoCap_IsOk()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org);
        var run = Guid.NewGuid();
        await app.RecordAsync(org, run, agent, 50m);

        var decision = await app.CheckCallAsync(org, run, agent, cap: null, projected: 100m);

        Assert.Equal(SpendTier.Ok, decision.Tier);
        Assert.Null(decision.CapUsd);
    }

    [Fact]
    public async Task CheckCall_RecordedPlusProjectedReachesCap_HaltsBeforeTheCallAndAudits()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, name: "Runaway", runCap: 1m);
        var run = Guid.NewGuid();
        await app.RecordAsync(org, run, agent, 0.95m);

        var decision = await app.CheckCallAsync(org, run, agent, 1m, 0.05m);

        Assert.Equal(SpendTier.Halt, decision.Tier);
        Assert.Equal("Halted by cost cap: $0.95 of $1.00 spent on this run.", decision.Message);
        var halted = Assert.Single(await app.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.RunHalted);
        Assert.Equal("Runaway", halted.Target);
        Assert.Contains(run.ToString(), halted.Details, StringComparison.Ordinal);
        Assert.Contains("run_cap", halted.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckCall_ToolLoopThatWouldRunForever_StopsAtTheCapWithoutOvershooting()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, runCap: 1m);
        var run = Guid.NewGuid();
        var calls = 0;
        var tiers = new List<SpendTier>();
        // Each step the loop asks with the step's projected cost, makes the call and records what it cost.
        while (calls < 100)
        {
            var decision = await app.CheckCallAsync(org, run, agent, 1m, 0.3m);
            tiers.Add(decision.Tier);
            if (decision.Tier == SpendTier.Halt)
            {
                break;
            }
            await app.RecordAsync(org, run, agent, 0.3m, reservationId: decision.ReservationId);
            calls++;
        }

        Assert.Equal(3, calls);
        Assert.Equal([SpendTier.Ok, SpendTier.Warn, SpendTier.Slow, SpendTier.Halt], tiers);
        var spent = await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) => db.Usage.Where(u => u.RunId == run).SumAsync(u => u.CostUsd, ct), default);
        Assert.True(spent <= 1m, $"spent {spent}");
    }

    [Fact]
    public async Task CheckTurn_DailyLimitReached_RefusesTheNextTurnUntilTheNextUtcDay()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, dailyLimit: 3);
        var conversation = await app.ConversationAsync(org, agent, org.Owner.UserId);
        await app.UserTurnsAsync(org, conversation, 2);
        Assert.Null(await app.CheckTurnAsync(org, agent));

        await app.UserTurnsAsync(org, conversation, 1);
        var refusal = await app.CheckTurnAsync(org, agent);

        Assert.NotNull(refusal);
        var tomorrow = new UsagePeriods(app.Clock.GetUtcNow()).NextDay;
        Assert.Equal($"This agent has reached its limit of 3 messages per day. The limit resets at {UsageFormat.UtcTime(tomorrow)}.", refusal.Reason);

        app.Clock.SetUtcNow(tomorrow.AddSeconds(1));
        Assert.Null(await app.CheckTurnAsync(org, agent));
    }

    [Fact]
    public async Task CheckTurn_UsageWithoutTurns_DoesNotCountAgainstTheDailyLimit()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, dailyLimit: 2);
        var other = await app.AgentAsync(org, dailyLimit: 2);
        // Messages are answers: model calls in the ledger (however many per run) and another agent's turns do not count.
        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.01m, UsageSources.Admin);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.01m, UsageSources.Admin);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.01m, UsageSources.Chat);
        await app.UserTurnsAsync(org, await app.ConversationAsync(org, other, org.Owner.UserId), 5);
        Assert.Null(await app.CheckTurnAsync(org, agent));

        await app.UserTurnsAsync(org, await app.ConversationAsync(org, agent, Guid.Empty), 2);

        Assert.Contains("limit of 2 messages per day", (await app.CheckTurnAsync(org, agent))?.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckTurn_EveryAnswerCountsButALimitsOwnRefusalDoesNot()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, dailyLimit: 3);
        var conversation = await app.ConversationAsync(org, agent, org.Owner.UserId);
        var now = app.Clock.GetUtcNow();
        var question = new ChatTurn { Id = Guid.CreateVersion7(), ConversationId = conversation, Role = ChatRoles.User, Content = "Q", Status = TurnStatus.Complete, CreatedAt = now };
        ChatTurn Answer(string status, string? provider) => new()
        {
            Id = Guid.CreateVersion7(), ConversationId = conversation, Role = ChatRoles.Assistant, Content = "", Status = status,
            ProviderLabel = provider, ReplyToId = question.Id, CreatedAt = now,
        };
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
        {
            db.ChatTurns.Add(question);
            // Two answers to one question (a Regenerate) and ten refusals by a limit, before any provider was reached.
            db.ChatTurns.Add(Answer(TurnStatus.Complete, "Recording"));
            db.ChatTurns.Add(Answer(TurnStatus.Failed, "Recording"));
            db.ChatTurns.AddRange(Enumerable.Range(0, 10).Select(_ => Answer(TurnStatus.Refused, null)));
            return Task.CompletedTask;
        }, default);
        Assert.Null(await app.CheckTurnAsync(org, agent));

        // An answer the output filter withheld was still a model call.
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
        {
            db.ChatTurns.Add(Answer(TurnStatus.Refused, "Recording"));
            return Task.CompletedTask;
        }, default);

        Assert.Contains("limit of 3 messages per day", (await app.CheckTurnAsync(org, agent))?.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckCall_EightAtOnceAgainstABudget_AdmitsOnlyWhatFitsWithCallsInFlight()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, monthlyBudget: 1m);

        var decisions = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.3m))));

        var admitted = decisions.Where(d => d.Tier != SpendTier.Halt).ToList();
        Assert.Equal(3, admitted.Count);
        Assert.All(admitted, d => Assert.NotNull(d.ReservationId));
        Assert.All(decisions.Where(d => d.Tier == SpendTier.Halt), d => Assert.Contains("$0.90 more held by calls in progress", d.Message, StringComparison.Ordinal));
        Assert.Equal(3, await app.ReservationsAsync(org));
    }

    [Fact]
    public async Task CheckCall_ReservationRecordedOrReleased_GivesWayToTheActualCost()
    {
        var org = await app.NewOrgAsync();
        await app.WithAsync<UsageService>(s => s.SetMonthlyQuotaAsync(org.Owner, org.Slug, 1m, default));
        var agent = await app.AgentAsync(org);
        var first = await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.6m);
        var second = await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.6m);
        Assert.Equal((SpendTier.Ok, SpendTier.Halt), (first.Tier, second.Tier));
        Assert.Contains("monthly quota of $1.00", second.Message, StringComparison.Ordinal);

        // The call cost less than projected: its usage replaces the reservation.
        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.2m, reservationId: first.ReservationId);
        var third = await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.6m);
        Assert.Equal(SpendTier.Ok, third.Tier);
        Assert.Equal(1, await app.ReservationsAsync(org));

        // A call that failed before any answer gives its reservation back.
        await app.WithAsync<ICostGuard>(g => g.ReleaseAsync(org.Id, third.ReservationId!.Value, default));
        Assert.Equal(0, await app.ReservationsAsync(org));
        Assert.Equal(SpendTier.Ok, (await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.8m)).Tier);
    }

    [Fact]
    public async Task CheckCall_ReservationOlderThanItsLifetime_NoLongerHoldsTheBudget()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, monthlyBudget: 1m);
        Assert.Equal(SpendTier.Ok, (await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.9m)).Tier);
        Assert.Equal(SpendTier.Halt, (await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.2m)).Tier);

        // The node making that call died: after the lifetime its reservation is let go.
        app.Clock.Advance(CostGuard.ReservationLifetime + TimeSpan.FromSeconds(1));

        Assert.Equal(SpendTier.Ok, (await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.2m)).Tier);
        Assert.Equal(1, await app.ReservationsAsync(org));
    }

    [Fact]
    public async Task Record_MonthlyBudgetUsedUp_PausesTheAgentWhichIsRefusedUntilResumed()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, name: "Budgeted", monthlyBudget: 1m);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.6m);
        Assert.Null(await app.CheckTurnAsync(org, agent));

        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.5m);

        var paused = await app.ReadAgentAsync(org, agent);
        Assert.NotNull(paused.PausedAt);
        Assert.Equal("Monthly budget of $1.00 reached", paused.PausedReason);
        Assert.Equal("This agent is paused: Monthly budget of $1.00 reached. An Admin can resume it on the Usage page.", (await app.CheckTurnAsync(org, agent))?.Reason);
        Assert.Equal(SpendTier.Halt, (await app.CheckCallAsync(org, Guid.NewGuid(), agent, cap: null, projected: 0m)).Tier);
        var audit = Assert.Single(await app.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.AgentPaused);
        Assert.Equal("Budgeted", audit.Target);

        // Still refused while paused, even once the budget is raised; answers again once an Admin resumes it.
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
            db.Agents.Where(a => a.Id == agent).ExecuteUpdateAsync(s => s.SetProperty(a => a.MonthlyBudgetUsd, 5m), ct), default);
        Assert.NotNull(await app.CheckTurnAsync(org, agent));
        var message = await app.WithAsync<UsageService, string>(s => s.ResumeAgentAsync(org.Owner, org.Slug, agent, default));
        Assert.Equal("Budgeted was resumed.", message);
        Assert.Null(await app.CheckTurnAsync(org, agent));
        Assert.Contains(await app.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.AgentResumed && e.Target == "Budgeted");
    }

    [Fact]
    public async Task CheckTurn_BudgetLoweredBelowThisMonthsSpend_PausesAndAuditsOnce()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 2m);
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
            db.Agents.Where(a => a.Id == agent).ExecuteUpdateAsync(s => s.SetProperty(a => a.MonthlyBudgetUsd, 1.5m), ct), default);

        Assert.Contains("Monthly budget of $1.50 reached", (await app.CheckTurnAsync(org, agent))?.Reason, StringComparison.Ordinal);
        Assert.Contains("Monthly budget of $1.50 reached", (await app.CheckTurnAsync(org, agent))?.Reason, StringComparison.Ordinal);

        Assert.Single(await app.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.AgentPaused);
    }

    [Fact]
    public async Task Resume_BudgetStillUsedUp_SaysSoAndTheNextTurnPausesAgain()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, name: "Spent", monthlyBudget: 1m);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 1m);

        var message = await app.WithAsync<UsageService, string>(s => s.ResumeAgentAsync(org.Owner, org.Slug, agent, default));

        Assert.Contains("still used up", message, StringComparison.Ordinal);
        Assert.Contains("is paused", (await app.CheckTurnAsync(org, agent))?.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckCall_ProjectedCallWouldPassAgentBudget_Halts()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, monthlyBudget: 1m);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 0.7m);

        Assert.Equal(SpendTier.Ok, (await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.3m)).Tier);
        var decision = await app.CheckCallAsync(org, Guid.NewGuid(), agent, null, 0.31m);

        Assert.Equal(SpendTier.Halt, decision.Tier);
        Assert.Contains("monthly budget of $1.00", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OrgQuota_UsedUp_RefusesEveryAgentsTurnAndHaltsCallsThatWouldPassIt()
    {
        var org = await app.NewOrgAsync();
        await app.WithAsync<UsageService>(s => s.SetMonthlyQuotaAsync(org.Owner, org.Slug, 2m, default));
        var a = await app.AgentAsync(org);
        var b = await app.AgentAsync(org);
        await app.RecordAsync(org, Guid.NewGuid(), a, 1.5m);

        Assert.Null(await app.CheckTurnAsync(org, b));
        var halted = await app.CheckCallAsync(org, Guid.NewGuid(), b, null, 0.6m);
        Assert.Equal(SpendTier.Halt, halted.Tier);
        Assert.Contains("monthly quota of $2.00", halted.Message, StringComparison.Ordinal);
        Assert.Contains(await app.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.RunHalted && e.Details!.Contains("org_quota", StringComparison.Ordinal));

        await app.RecordAsync(org, Guid.NewGuid(), b, 0.5m);

        var refusal = await app.CheckTurnAsync(org, b);
        Assert.NotNull(refusal);
        Assert.StartsWith("The organization's monthly quota of $2.00 is used up ($2.00 spent this month).", refusal.Reason, StringComparison.Ordinal);
        Assert.NotNull(await app.CheckTurnAsync(org, a));
    }

    [Fact]
    public async Task OrgQuota_NextUtcMonth_StartsAfresh()
    {
        var org = await app.NewOrgAsync();
        await app.WithAsync<UsageService>(s => s.SetMonthlyQuotaAsync(org.Owner, org.Slug, 1m, default));
        var agent = await app.AgentAsync(org);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 1m);
        Assert.NotNull(await app.CheckTurnAsync(org, agent));

        app.Clock.SetUtcNow(new UsagePeriods(app.Clock.GetUtcNow()).NextMonth.AddMinutes(1));

        Assert.Null(await app.CheckTurnAsync(org, agent));
    }

    [Fact]
    public async Task CheckTurn_PausedAgent_IsRefusedWithTheReason()
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org, pausedAt: app.Clock.GetUtcNow(), pausedReason: "Paused by an Admin");

        Assert.Equal("This agent is paused: Paused by an Admin. An Admin can resume it on the Usage page.", (await app.CheckTurnAsync(org, agent))?.Reason);
    }

    [Theory]
    [InlineData("update usage_records set cost_usd = 0")]
    [InlineData("delete from usage_records")]
    [InlineData("truncate usage_records")]
    public async Task Ledger_ChangedByTheTenantRole_IsRefusedByTheDatabase(string sql)
    {
        var org = await app.NewOrgAsync();
        var agent = await app.AgentAsync(org);
        await app.RecordAsync(org, Guid.NewGuid(), agent, 3m);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => app.Get<TenantUnitOfWork>().RunAsync(org.Schema, async (db, ct) =>
        {
            await using var cmd = db.CreateCommand(sql);
            return await cmd.ExecuteNonQueryAsync(ct);
        }, default));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
        var spent = await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) => db.Usage.SumAsync(u => u.CostUsd, ct), default);
        Assert.Equal(3m, spent);
    }

    [Fact]
    public async Task Record_UnknownSource_IsRejected()
    {
        var org = await app.NewOrgAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => app.RecordAsync(org, Guid.NewGuid(), null, 0.1m, source: "elsewhere"));
    }

    [Fact]
    public async Task Record_AnotherOrganizationsAgentId_DoesNotTouchThatAgent()
    {
        var mine = await app.NewOrgAsync();
        var theirs = await app.NewOrgAsync();
        var victim = await app.AgentAsync(theirs, monthlyBudget: 1m);

        await app.RecordAsync(mine, Guid.NewGuid(), victim, 5m);

        Assert.Null((await app.ReadAgentAsync(theirs, victim)).PausedAt);
        Assert.Null(await app.CheckTurnAsync(theirs, victim));
        Assert.Equal("This agent no longer exists.", (await app.CheckTurnAsync(mine, victim))?.Reason);
    }

    [Fact]
    public async Task CheckCall_UnknownOrganization_IsNotFound()
    {
        await Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<ICostGuard, SpendDecision>(g => g.CheckCallAsync(Guid.NewGuid(), new RunBudget(Guid.NewGuid(), null, null), 0.1m, default)));
    }
}
