using AgentSpace.Agents;
using AgentSpace.Chat;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Chat;

/// <summary>
/// The daily message limit and the monthly budget as a person trying to get past them sees it: answers
/// through Regenerate and Retry, and many sends at the same moment (the chat engine with the app's cost guard).
/// </summary>
public sealed class ChatLimitTests(CostCapFixture data) : IClassFixture<CostCapFixture>
{
    private async Task<Agent> LimitedAgentAsync(OrgSummary org, int? daily, decimal? monthly)
    {
        var agent = await data.CreateAgentAsync(org);
        await data.InTenantAsync(org, async db =>
        {
            var stored = await db.Agents.FirstAsync(a => a.Id == agent.Id);
            stored.DailyMessageLimit = daily;
            stored.MonthlyBudgetUsd = monthly;
            await db.SaveChangesAsync();
        });
        return agent;
    }

    private static string Marker() => "q-" + Guid.NewGuid().ToString("N");

    private int RequestsWith(string marker) => data.Server.ChatRequests.Count(r => r.PromptText.Contains(marker, StringComparison.Ordinal));

    private Task<int> ReservationsAsync(OrgSummary org) => data.InTenantAsync(org, db => db.Set<UsageReservation>().CountAsync());

    [Fact]
    public async Task Regenerate_DailyLimitOfTwo_TwentyRegeneratesAndRetriesGetOnlyTheLimitsAnswers()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await LimitedAgentAsync(org.Org, 2, null);
        var marker = Marker();
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal) ? ScriptedReply.Say("answer") : null);
        var caller = ChatCaller.For(org.Member);
        var first = await data.Engine.SendAsync(caller, org.Org.Slug, agent.Id, null, "one " + marker, null, default);

        var outcomes = new List<TurnOutcome> { first };
        for (var i = 0; i < 20; i++)
        {
            // Regenerate answers the last user turn again; Retry answers the user turn of a given answer again.
            outcomes.Add(i % 2 == 0
                ? await data.Engine.RegenerateAsync(caller, org.Org.Slug, first.ConversationId, null, default)
                : await data.Engine.RetryAsync(caller, org.Org.Slug, first.AssistantTurnId, null, default));
        }

        Assert.Equal(2, outcomes.Count(o => o.Status == TurnStatus.Complete));
        Assert.All(outcomes.Skip(2), o =>
        {
            Assert.Equal(TurnStatus.Refused, o.Status);
            Assert.Contains("limit of 2 messages per day", o.Error, StringComparison.Ordinal);
        });
        Assert.Equal(2, RequestsWith(marker));
    }

    [Fact]
    public async Task Send_DailyLimitOfOne_EightConcurrentSendsGetExactlyOneAnswer()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await LimitedAgentAsync(org.Org, 1, null);
        var marker = Marker();
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "slow answer", Chunks = 4, ChunkDelay = TimeSpan.FromMilliseconds(100) }
            : null);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, $"msg {i} {marker}", null, default))));

        Assert.Single(outcomes, o => o.Status == TurnStatus.Complete);
        var refused = outcomes.Where(o => o.Status != TurnStatus.Complete).ToList();
        Assert.Equal(7, refused.Count);
        Assert.All(refused, o =>
        {
            Assert.Equal(TurnStatus.Refused, o.Status);
            Assert.StartsWith("This agent has reached its limit of 1 message per day.", o.Error, StringComparison.Ordinal);
        });
        Assert.Equal(1, RequestsWith(marker));
    }

    [Fact]
    public async Task Send_MonthlyBudget_EightConcurrentSendsSpendNoMoreThanTheBudget()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        // Each call costs 1000 * $1 + 1000 * $2 per million tokens = $0.003; it is projected at about $0.0042
        // (the prompt plus the full output allowance), so two calls fit in $0.01 and a third never starts.
        const decimal budget = 0.01m;
        var agent = await LimitedAgentAsync(org.Org, null, budget);
        var marker = Marker();
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "x", PromptTokens = 1000, CompletionTokens = 1000, Chunks = 2, ChunkDelay = TimeSpan.FromMilliseconds(150) }
            : null);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, $"m{i} {marker}", null, default))));

        var spent = await data.InTenantAsync(org.Org, db => db.Usage.Where(u => u.AgentId == agent.Id).SumAsync(u => u.CostUsd));
        Assert.True(spent <= budget, $"spent {spent} against a monthly budget of {budget}");
        var answered = outcomes.Count(o => o.Status == TurnStatus.Complete);
        Assert.InRange(answered, 1, 3);
        Assert.Equal(answered, RequestsWith(marker));
        Assert.All(outcomes.Where(o => o.Status != TurnStatus.Complete), o =>
        {
            Assert.Equal(TurnStatus.HaltedByCostCap, o.Status);
            Assert.Contains("monthly budget of $0.01", o.Error, StringComparison.Ordinal);
        });
        // Every call's reservation gave way to its recorded usage.
        Assert.Equal(0, await ReservationsAsync(org.Org));
    }

    [Fact]
    public async Task Send_ProviderFailsOrStopPressed_ReleasesTheCallsReservation()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await LimitedAgentAsync(org.Org, null, 0.01m);
        var failing = Marker();
        var endless = Marker();
        data.Server.RespondWith(r =>
            r.PromptText.Contains(failing, StringComparison.Ordinal) ? ScriptedReply.Fail(500, "upstream broke")
            : r.PromptText.Contains(endless, StringComparison.Ordinal) ? new ScriptedReply { Text = "word ", Chunks = 1, ChunkDelay = TimeSpan.FromMilliseconds(20), Endless = true }
            : null);

        var failed = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "fail " + failing, null, default);
        Assert.Equal(TurnStatus.Failed, failed.Status);
        Assert.Equal(0, await ReservationsAsync(org.Org));

        var watch = new LiveTurn();
        var running = data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "talk " + endless, watch, default);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Text.Length < 10 && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }
        Assert.Equal(1, await ReservationsAsync(org.Org));
        Assert.True(data.Services.GetRequiredService<LiveRuns>().Stop(watch.RunId, org.Member.UserId));
        var stopped = await running;

        Assert.Equal(TurnStatus.Stopped, stopped.Status);
        Assert.Equal(0, await ReservationsAsync(org.Org));
        // The budget is whole again for the next answer.
        var next = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "hello", null, default);
        Assert.Equal(TurnStatus.Complete, next.Status);
    }
}
