using System.Text.Json.Nodes;
using AgentSpace.Agents;
using AgentSpace.Audit;
using AgentSpace.Chat;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Chat;

/// <summary>Conversation housekeeping and the memory tool's recall and forget, as a member uses them.</summary>
public sealed class ConversationTests(ChatFixture data) : IClassFixture<ChatFixture>
{
    [Fact]
    public async Task RenameSearchDelete_OwnConversation_WorkAndDeleteIsAudited()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, offline: true);
        var first = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Plan the zebra migration", null, default);
        await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Something else entirely", null, default);

        await data.WithAsync<ChatService>(s => s.RenameAsync(org.Member, org.Org.Slug, first.ConversationId, "Zoo logistics", default));
        var byTitle = await data.WithAsync<ChatService, ChatView>(s => s.OpenAsync(org.Member, org.Org.Slug, agent.Id, null, "logistics", default));
        var byText = await data.WithAsync<ChatService, ChatView>(s => s.OpenAsync(org.Member, org.Org.Slug, agent.Id, null, "ZEBRA", default));
        var all = await data.WithAsync<ChatService, ChatView>(s => s.OpenAsync(org.Member, org.Org.Slug, agent.Id, null, null, default));

        Assert.Equal("Zoo logistics", Assert.Single(byTitle.Conversations).Title);
        Assert.Equal(first.ConversationId, Assert.Single(byText.Conversations).Id);
        Assert.Equal(2, all.Conversations.Count);
        await Assert.ThrowsAsync<ChatRuleException>(() => data.WithAsync<ChatService>(s => s.RenameAsync(org.Member, org.Org.Slug, first.ConversationId, "  ", default)));

        await data.WithAsync<ChatService>(s => s.DeleteAsync(org.Member, org.Org.Slug, first.ConversationId, default));

        Assert.Empty(await data.TurnsAsync(org.Org, first.ConversationId));
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug),
            e => e.Action == ChatAuditActions.ConversationDeleted && e.Target == first.ConversationId.ToString() && e.ActorId == org.Member.UserId);
    }

    [Fact]
    public async Task MemoryTool_RecallAndForget_ListsThenRemovesTheFact()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, tools: [AgentTools.Memory]);
        await data.AddMemoryAsync(org.Org, agent.Id, "Invoices go out on the 3rd.");
        var memory = Assert.Single(await data.MemoriesAsync(org.Org, agent.Id));
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r =>
        {
            if (!r.PromptText.Contains(marker, StringComparison.Ordinal))
            {
                return null;
            }
            var toolTurns = r.Json?["messages"]?.AsArray().Count(m => m?["role"]?.GetValue<string>() == "tool") ?? 0;
            return toolTurns switch
            {
                0 => ScriptedReply.CallTool("memory_recall", new JsonObject { ["query"] = "invoices" }.ToJsonString()),
                1 => ScriptedReply.CallTool("memory_forget", new JsonObject { ["id"] = memory.Id.ToString() }.ToJsonString(), "You asked me to forget it."),
                _ => ScriptedReply.Say("Forgotten."),
            };
        });

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Forget the invoice date " + marker, null, default);

        Assert.Equal(TurnStatus.Complete, outcome.Status);
        Assert.Empty(await data.MemoriesAsync(org.Org, agent.Id));
        var calls = await data.ToolCallsAsync(org.Org, outcome.AssistantTurnId);
        Assert.Equal(["memory_recall", "memory_forget"], calls.Select(c => c.Tool));
        Assert.Contains("Invoices go out on the 3rd.", calls[0].ResultPreview, StringComparison.Ordinal);
        var recallResult = data.Server.ChatRequests.Last(r => r.PromptText.Contains(marker, StringComparison.Ordinal)).PromptText;
        Assert.Contains("<untrusted_content source=\"tool:memory_recall\">", recallResult, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_ModelAsksForAToolTheAgentLacks_RefusedAndAuditedAsDenied()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, tools: []);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => !r.PromptText.Contains(marker, StringComparison.Ordinal) ? null
            : r.PromptText.Contains("source=\"tool:memory_save\"", StringComparison.Ordinal)
                ? ScriptedReply.Say("I cannot do that.")
                : ScriptedReply.CallTool("memory_save", "{\"fact\":\"x\"}"));

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Save this " + marker, null, default);

        Assert.Equal(TurnStatus.Complete, outcome.Status);
        Assert.Empty(await data.MemoriesAsync(org.Org, agent.Id));
        Assert.Equal(AuditOutcome.Denied, Assert.Single(await data.ToolCallsAsync(org.Org, outcome.AssistantTurnId)).Outcome);
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == ChatAuditActions.ToolCalled && e.Outcome == AuditOutcome.Denied);
    }
}
