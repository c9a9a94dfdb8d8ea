using AgentSpace.Agents;
using AgentSpace.Chat;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Chat;

/// <summary>The app's own cost guard (limits feature) in front of the chat engine's model calls.</summary>
public sealed class CostCapFixture : ChatFixture
{
    protected override bool UseAppCostGuard => true;

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?> { ["Limits:SlowDelay"] = "00:00:00.050" };
}

public sealed class ChatCostCapTests(CostCapFixture data) : IClassFixture<CostCapFixture>
{
    [Fact]
    public async Task Send_ScriptedToolLoopThatNeverEnds_HaltsAtTheCapBeforeTheNextCall()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        const decimal cap = 0.02m;
        var agent = await data.CreateAgentAsync(org.Org, tools: [AgentTools.CurrentTime], costCap: cap);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        // Every answer asks for the tool again: without the guard this loop would only end at the step limit.
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { ToolCalls = [new ScriptedToolCall(AgentTools.CurrentTime, "{}")], PromptTokens = 2000, CompletionTokens = 500 }
            : null);
        var watch = new LiveTurn();

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "What time is it? " + marker, watch, default);

        Assert.Equal(TurnStatus.HaltedByCostCap, outcome.Status);
        Assert.StartsWith("Halted by cost cap", outcome.Error, StringComparison.Ordinal);
        var calls = data.Server.ChatRequests.Count(r => r.PromptText.Contains(marker, StringComparison.Ordinal));
        Assert.InRange(calls, 2, ChatEngine.MaxModelCalls - 1);
        var spent = await data.InTenantAsync(org.Org, db => db.Usage.Where(u => u.AgentId == agent.Id).SumAsync(u => u.CostUsd));
        // Checked before each call with its projected cost: the run never went past its cap.
        Assert.True(spent <= cap, $"spent {spent}");
        Assert.Equal(calls, await data.InTenantAsync(org.Org, db => db.Usage.CountAsync(u => u.AgentId == agent.Id)));
        Assert.Contains(watch.Notices, n => n.Contains("cost cap", StringComparison.Ordinal));
        var stored = (await data.TurnsAsync(org.Org, outcome.ConversationId)).Single(t => t.Id == outcome.AssistantTurnId);
        Assert.Equal(TurnStatus.HaltedByCostCap, stored.Status);
        // Each call asked for the tool and got its result; the call after the last one was never made.
        Assert.Equal(calls, (await data.ToolCallsAsync(org.Org, outcome.AssistantTurnId)).Count);
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == LimitsAuditActions.RunHalted);
    }

    [Fact]
    public async Task AgentAsk_DailyLimitOfTwo_AnswersTwiceThenRefuses()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, name: "limited-" + Guid.NewGuid().ToString("N")[..6]);
        await data.InTenantAsync(org.Org, async db =>
        {
            var stored = await db.Agents.FirstAsync(a => a.Id == agent.Id);
            stored.DailyMessageLimit = 2;
            await db.SaveChangesAsync();
        });

        var codes = new List<int>();
        string lastError = "";
        for (var i = 0; i < 3; i++)
        {
            using var output = new StringWriter();
            using var error = new StringWriter();
            codes.Add(await AgentSpace.Admin.AdminCommands.RunAsync(["agent", "ask", org.Org.Slug, agent.Name, "Question " + i], data.Services, output, error));
            lastError = error.ToString();
        }

        // Each ask is one message (its user turn), counted once.
        Assert.Equal([0, 0, 1], codes);
        Assert.Contains("limit of 2 messages per day", lastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_PausedAgent_RefusedTurnWithTheReasonAndNoModelCall()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org);
        await data.InTenantAsync(org.Org, async db =>
        {
            var stored = await db.Agents.FirstAsync(a => a.Id == agent.Id);
            stored.PausedAt = data.Clock.GetUtcNow();
            stored.PausedReason = "Monthly budget used up.";
            await db.SaveChangesAsync();
        });
        var marker = "q-" + Guid.NewGuid().ToString("N");

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Hello " + marker, null, default);

        Assert.Equal(TurnStatus.Refused, outcome.Status);
        Assert.False(string.IsNullOrWhiteSpace(outcome.Error));
        var turns = await data.TurnsAsync(org.Org, outcome.ConversationId);
        Assert.Equal([ChatRoles.User, ChatRoles.Assistant], turns.Select(t => t.Role));
        Assert.Equal((TurnStatus.Refused, outcome.Error), (turns[1].Status, turns[1].Error));
        Assert.DoesNotContain(data.Server.ChatRequests, r => r.PromptText.Contains(marker, StringComparison.Ordinal));
    }
}
