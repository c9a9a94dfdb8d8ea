using System.Text;
using System.Text.Json.Nodes;
using AgentSpace.Agents;
using AgentSpace.Chat;
using AgentSpace.Knowledge;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Chat;

/// <summary>The chat with documents processed by the test itself (no background worker).</summary>
public sealed class ChatKnowledgeFixture : ChatFixture
{
    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Knowledge:BackgroundProcessing"] = "false",
    };

    /// <summary>A ready document with <paramref name="text"/>, uploaded by the owner and processed.</summary>
    public async Task<Guid> ReadyDocumentAsync(TestOrg org, string name, string text)
    {
        ArgumentNullException.ThrowIfNull(org);
        await using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var uploaded = await WithAsync<KnowledgeService, UploadResult>(s => s.UploadAsync(org.Owner, org.Org.Slug, name, stream, default));
        await WithAsync<KnowledgeProcessor, int>(p => p.RunPendingAsync(org.Org.Id, default));
        return uploaded.DocumentId;
    }

    public Task AttachAsync(TestOrg org, Guid agentId, Guid documentId) =>
        WithAsync<KnowledgeAttachments>(a => a.AttachAsync(org!.Owner, org.Org.Slug, agentId, documentId, default));
}

public sealed class ChatKnowledgeTests(ChatKnowledgeFixture data) : IClassFixture<ChatKnowledgeFixture>
{
    private const string Handbook = """
        # Travel policy

        Employees book flights through the travel desk at least 14 days before departure. Economy class is the default for flights under six hours.

        # Expenses

        Meal expenses are reimbursed up to 45 euros per day with receipts. Claims older than 90 days are not paid.
        """;

    private const string Secret = """
        # Merger plans

        The board approved the acquisition of Northwind Traders for 12 million euros, to be announced in March.
        """;

    [Fact]
    public async Task OfflineAgent_QuotesItsAttachedDocumentWithANumberedCitation_AndStoresTheSource()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, offline: true);
        var handbook = await data.ReadyDocumentAsync(org, "handbook.md", Handbook);
        await data.AttachAsync(org, agent.Id, handbook);

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "How much are meal expenses reimbursed per day?", null, default);

        Assert.True(outcome.Status == TurnStatus.Complete, outcome.Error);
        var quote = System.Text.RegularExpressions.Regex.Match(outcome.Content, @"45 euros per day[^\[]*\[(\d)\]");
        Assert.True(quote.Success, outcome.Content);
        var number = int.Parse(quote.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"{number}. handbook.md · Expenses", outcome.Content, StringComparison.Ordinal);
        var sources = await data.InTenantAsync(org.Org, db => db.TurnSources.AsNoTracking().Where(s => s.MessageId == outcome.AssistantTurnId).ToListAsync());
        var source = Assert.Single(sources, s => s.Number == number);
        Assert.Equal(handbook, source.DocumentId);
        Assert.Equal("Expenses", source.HeadingPath);
        var passage = await data.WithAsync<ChatService, PassageView>(s => s.PassageAsync(org.Member, org.Org.Slug, outcome.AssistantTurnId, number, default));
        Assert.Contains("45 euros per day", passage.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OfflineAgent_NeverQuotesADocumentThatIsNotAttachedToIt()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, offline: true);
        var other = await data.CreateAgentAsync(org.Org, offline: true);
        await data.AttachAsync(org, agent.Id, await data.ReadyDocumentAsync(org, "handbook.md", Handbook));
        await data.AttachAsync(org, other.Id, await data.ReadyDocumentAsync(org, "board.md", Secret));

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "What acquisition did the board approve, and for how much?", null, default);

        Assert.DoesNotContain("Northwind", outcome.Content, StringComparison.Ordinal);
        Assert.DoesNotContain(await data.InTenantAsync(org.Org, db => db.TurnSources.AsNoTracking().ToListAsync()), s => s.DocumentName == "board.md");
    }

    [Fact]
    public async Task KnowledgeSearchTool_ReturnsOnlyAttachedPassagesInTheEnvelope_AndTheAnswersCitationIsStored()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, tools: [AgentTools.KnowledgeSearch]);
        await data.AttachAsync(org, agent.Id, await data.ReadyDocumentAsync(org, "handbook.md", Handbook));
        await data.ReadyDocumentAsync(org, "board.md", Secret);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        string? toolResult = null;
        List<string?> offered = [];
        data.Server.RespondWith(r =>
        {
            if (!r.PromptText.Contains(marker, StringComparison.Ordinal))
            {
                return null;
            }
            offered = r.Json?["tools"]?.AsArray().Select(t => t?["function"]?["name"]?.GetValue<string>()).ToList() ?? [];
            var tool = r.Json?["messages"]?.AsArray().FirstOrDefault(m => m?["role"]?.GetValue<string>() == "tool");
            if (tool is null)
            {
                return ScriptedReply.CallTool(AgentTools.KnowledgeSearch, new JsonObject { ["query"] = "board acquisition meal expenses" }.ToJsonString());
            }
            toolResult = tool["content"]!.GetValue<string>();
            return ScriptedReply.Say("Meals are reimbursed up to 45 euros per day [1].");
        });

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Expenses? " + marker, null, default);

        Assert.True(outcome.Status == TurnStatus.Complete, outcome.Error);
        Assert.Contains(AgentTools.KnowledgeSearch, offered);
        Assert.NotNull(toolResult);
        Assert.StartsWith("<untrusted_content source=\"tool:knowledge_search\">", toolResult, StringComparison.Ordinal);
        Assert.Contains("[1] handbook.md", toolResult, StringComparison.Ordinal);
        Assert.DoesNotContain("Northwind", toolResult, StringComparison.Ordinal);
        var source = Assert.Single(await data.InTenantAsync(org.Org, db => db.TurnSources.AsNoTracking().Where(s => s.MessageId == outcome.AssistantTurnId).ToListAsync()));
        Assert.Equal("handbook.md", source.DocumentName);
    }

    [Fact]
    public async Task Passage_OfAnotherMembersAnswer_IsNotFound()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, offline: true);
        await data.AttachAsync(org, agent.Id, await data.ReadyDocumentAsync(org, "handbook.md", Handbook));
        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Meal expenses per day?", null, default);
        var number = (await data.InTenantAsync(org.Org, db => db.TurnSources.AsNoTracking().Where(s => s.MessageId == outcome.AssistantTurnId).ToListAsync()))[0].Number;
        var other = await data.AddMemberAsync(org.Org, OrgRole.Member);
        var own = await data.WithAsync<ChatService, PassageView>(s => s.PassageAsync(org.Member, org.Org.Slug, outcome.AssistantTurnId, number, default));
        Assert.NotNull(own.Text);

        await Assert.ThrowsAsync<ChatNotFoundException>(() =>
            data.WithAsync<ChatService, PassageView>(s => s.PassageAsync(other, org.Org.Slug, outcome.AssistantTurnId, number, default)));
    }

    [Fact]
    public async Task Reembed_WithAProvidersEmbeddingModel_EveryChunkGetsItsVectorAndSearchUsesThem()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var handbook = await data.ReadyDocumentAsync(org, "handbook.md", Handbook);
        var provider = await data.AddProviderAsync(org.Owner, org.Org);

        var saved = await data.WithAsync<KnowledgeService, KnowledgeSettingsView>(s => s.SaveSettingsAsync(org.Member, org.Org.Slug, provider, "embed-small", "english", default));
        Assert.Equal(1, saved.StaleDocuments);
        Assert.Equal(1, await data.WithAsync<KnowledgeService, int>(s => s.StartReembedAsync(org.Member, org.Org.Slug, default)));
        // Still searchable by its words while it waits.
        Assert.Equal(DocumentStatus.Ready, await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.Where(d => d.Id == handbook).Select(d => d.Status).SingleAsync()));
        await data.WithAsync<KnowledgeProcessor, int>(p => p.RunPendingAsync(org.Org.Id, default));

        var chunks = await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.AsNoTracking().Where(c => c.DocumentId == handbook).ToListAsync());
        Assert.All(chunks, c => Assert.Equal((8, $"provider:{provider:N}:embed-small"), (c.Dimensions!.Value, c.Embedder!)));
        Assert.Equal(0, (await data.WithAsync<KnowledgeService, KnowledgeSettingsView>(s => s.GetSettingsAsync(org.Member, org.Org.Slug, default))).StaleDocuments);
        Assert.Contains(data.Server.Received, r => r.Path.EndsWith("/embeddings", StringComparison.Ordinal) && r.Authorization == "Bearer " + data.Server.ApiKey);
        var target = chunks.OrderBy(c => c.Ordinal).Last();
        var hits = await data.WithAsync<KnowledgeSearch, IReadOnlyList<KnowledgeHit>>(s =>
            s.SearchAsync(org.Member, org.Org.Slug, ChunkEmbedder.TextOf(target.HeadingPath, target.Text), KnowledgeScope.AllDocuments, 5, default, RetrievalMode.VectorOnly));
        Assert.Equal(target.Id, hits[0].ChunkId);
        Assert.Equal(1.0, hits[0].VectorScore!.Value, 2);
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == KnowledgeAuditActions.ReembedStarted);
    }

    [Fact]
    public async Task Settings_NewLanguage_ReindexesEveryPassage_UnknownLanguageIsRefused()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        await data.ReadyDocumentAsync(org, "handbook.md", Handbook);

        await data.WithAsync<KnowledgeService, KnowledgeSettingsView>(s => s.SaveSettingsAsync(org.Member, org.Org.Slug, null, null, "german", default));
        var refused = await Assert.ThrowsAsync<KnowledgeRuleException>(() =>
            data.WithAsync<KnowledgeService, KnowledgeSettingsView>(s => s.SaveSettingsAsync(org.Member, org.Org.Slug, null, null, "klingon'; drop table x; --", default)));

        Assert.Equal("Choose a language from the list.", refused.Message);
        var languages = await data.InTenantAsync(org.Org, async db =>
        {
            await using var cmd = db.CreateCommand("select distinct language::text from knowledge_chunks");
            return (string?)await cmd.ExecuteScalarAsync();
        });
        Assert.Equal("german", languages);
    }
}
