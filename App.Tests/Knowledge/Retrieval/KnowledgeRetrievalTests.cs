using System.Text;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Tests.Knowledge.Ingest;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Knowledge.Retrieval;

public sealed class KnowledgeRetrievalTests(KnowledgeIngestFixture data) : IClassFixture<KnowledgeIngestFixture>
{
    private const string Pumps = """
        # Pump maintenance

        Centrifugal pumps are inspected every quarter. A seal that leaks more than ten drops per minute is replaced.
        If the controller shows fault code E-4471 the impeller is jammed and the pump must be stopped at once.
        """;

    private const string Canteen = """
        # Canteen

        Lunch is served from noon until two o'clock. Vegetarian dishes are available every day.
        """;

    private async Task<Guid> ReadyAsync(TestOrg org, string name, string text)
    {
        var uploaded = await data.UploadAsync(org.Owner, org.Org, name, Encoding.UTF8.GetBytes(text));
        await data.ProcessAsync(org.Org);
        Assert.Equal(DocumentStatus.Ready, (await data.DocumentAsync(org.Org, uploaded.DocumentId)).Status);
        return uploaded.DocumentId;
    }

    private Task<IReadOnlyList<KnowledgeHit>> SearchAsync(Actor actor, OrgSummary org, string query, KnowledgeScope? scope = null, RetrievalMode mode = RetrievalMode.Hybrid) =>
        data.WithAsync<KnowledgeSearch, IReadOnlyList<KnowledgeHit>>(s => s.SearchAsync(actor, org.Slug, query, scope ?? KnowledgeScope.AllDocuments, 10, default, mode));

    private async Task<Guid> AgentAsync(TestOrg org, string name)
    {
        var id = Guid.CreateVersion7();
        await data.InTenantAsync(org.Org, async db =>
        {
            db.Agents.Add(new AgentSpace.Agents.Agent { Id = id, Name = name, Colour = "#336699", CreatedBy = org.Owner.UserId, CreatedAt = data.Clock.GetUtcNow(), UpdatedAt = data.Clock.GetUtcNow() });
            return await db.SaveChangesAsync();
        });
        return id;
    }

    [Fact]
    public async Task LocalEmbedder_IsDeterministicNormalisedAndPutsRelatedTextCloser()
    {
        var a = LocalEmbedder.Embed("The centrifugal pump seal leaks.");
        var again = (await new LocalEmbedder().GenerateAsync(["The centrifugal pump seal leaks."]))[0].Vector.ToArray();
        var related = LocalEmbedder.Embed("Replace the leaking seal of the pump.");
        var unrelated = LocalEmbedder.Embed("Lunch is served from noon in the canteen.");

        Assert.Equal(a, again);
        Assert.Equal(LocalEmbedder.Dimensions, a.Length);
        Assert.Equal(1.0, Math.Sqrt(a.Sum(v => (double)v * v)), 4);
        Assert.True(Dot(a, related) > Dot(a, unrelated) + 0.1, $"{Dot(a, related)} vs {Dot(a, unrelated)}");
        Assert.All(LocalEmbedder.Embed("   "), v => Assert.Equal(0f, v));
    }

    [Fact]
    public async Task Search_ExactCodeFoundByText_ParaphraseFoundByVector_BothScoresReported()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        var pumps = await ReadyAsync(org, "pumps.md", Pumps);
        await ReadyAsync(org, "canteen.md", Canteen);

        var code = await SearchAsync(org.Member, org.Org, "E-4471");
        var textOnly = await SearchAsync(org.Member, org.Org, "leaking pump seals", mode: RetrievalMode.TextOnly);
        var vectorOnly = await SearchAsync(org.Member, org.Org, "leaking pump seals", mode: RetrievalMode.VectorOnly);

        Assert.Equal(pumps, code[0].DocumentId);
        Assert.NotNull(code[0].TextScore);
        Assert.Equal(1, code[0].TextRank);
        Assert.True(pumps == vectorOnly[0].DocumentId, string.Join("\n", vectorOnly.Select(h => $"{h.DocumentName} {h.VectorScore} {h.VectorRank} {h.Text[..30]}")));
        Assert.Null(vectorOnly[0].TextRank);
        Assert.All(textOnly, h => Assert.Null(h.VectorRank));
        var both = (await SearchAsync(org.Member, org.Org, "pump seal replaced"))[0];
        Assert.Equal(pumps, both.DocumentId);
        Assert.NotNull(both.VectorScore);
        Assert.NotNull(both.TextScore);
        Assert.Equal(1.0 / (60 + both.VectorRank!.Value) + 1.0 / (60 + both.TextRank!.Value), both.FusedScore, 9);
        Assert.Equal("Pump maintenance", both.HeadingPath);
    }

    [Fact]
    public async Task Search_OnlyReadyDocuments()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await data.UploadAsync(org.Owner, org.Org, "queued.md", Encoding.UTF8.GetBytes(Pumps + "\nqueued"));

        Assert.Empty(await SearchAsync(org.Member, org.Org, "E-4471 impeller"));
    }

    [Fact]
    public async Task AgentScope_NeverReturnsADocumentNotAttachedToIt_DetachTakesEffectAtOnce()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var pumps = await ReadyAsync(org, "pumps.md", Pumps);
        var canteen = await ReadyAsync(org, "canteen.md", Canteen);
        var engineer = await AgentAsync(org, "Engineer");
        var cook = await AgentAsync(org, "Cook");
        await data.WithAsync<KnowledgeAttachments>(a => a.AttachAsync(org.Member, org.Org.Slug, engineer, pumps, default));
        await data.WithAsync<KnowledgeAttachments>(a => a.AttachAsync(org.Member, org.Org.Slug, cook, canteen, default));

        var engineerHits = await SearchAsync(org.Member, org.Org, "lunch vegetarian canteen noon pump", KnowledgeScope.ForAgent(engineer));
        var cookHits = await SearchAsync(org.Member, org.Org, "pump seal impeller E-4471 lunch", KnowledgeScope.ForAgent(cook));

        Assert.NotEmpty(engineerHits);
        Assert.All(engineerHits, h => Assert.Equal(pumps, h.DocumentId));
        Assert.NotEmpty(cookHits);
        Assert.All(cookHits, h => Assert.Equal(canteen, h.DocumentId));
        await data.WithAsync<KnowledgeAttachments>(a => a.DetachAsync(org.Member, org.Org.Slug, engineer, pumps, default));
        Assert.Empty(await SearchAsync(org.Member, org.Org, "pump seal", KnowledgeScope.ForAgent(engineer)));
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Contains(audit, e => e.Action == KnowledgeAuditActions.Attached && e.Target!.StartsWith("pumps.md", StringComparison.Ordinal));
        Assert.Contains(audit, e => e.Action == KnowledgeAuditActions.Detached && e.Target!.StartsWith("pumps.md", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Attach_AsMember_IsDenied()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var pumps = await ReadyAsync(org, "pumps.md", Pumps);
        var agent = await AgentAsync(org, "Engineer");

        var denied = await Assert.ThrowsAnyAsync<AgentSpace.Hosting.UserFacingException>(() =>
            data.WithAsync<KnowledgeAttachments>(a => a.AttachAsync(org.Member, org.Org.Slug, agent, pumps, default)));

        Assert.Equal(403, denied.StatusCode);
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.AgentDocuments.CountAsync()));
    }

    [Fact]
    public async Task Search_AnotherOrganizationsChunks_AreNeverReturned()
    {
        var victim = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await ReadyAsync(victim, "pumps.md", Pumps);
        var attacker = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await ReadyAsync(attacker, "canteen.md", Canteen);

        var hits = await SearchAsync(attacker.Member, attacker.Org, "E-4471 centrifugal pump seal impeller");
        var asVictimSlug = await Assert.ThrowsAnyAsync<AgentSpace.Hosting.UserFacingException>(() => SearchAsync(attacker.Member, victim.Org, "E-4471"));

        Assert.All(hits, h => Assert.Equal("canteen.md", h.DocumentName));
        Assert.Equal(404, asVictimSlug.StatusCode);
    }

    [Fact]
    public async Task HybridSql_TheHnswIndexServesTheVectorSide()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await ReadyAsync(org, "pumps.md", Pumps);
        var sql = HybridSql.Build(LocalEmbedder.Dimensions, forAgent: false);
        var split = sql.IndexOf("with lexemes", StringComparison.Ordinal);

        var plan = await data.InTenantAsync(org.Org, async db =>
        {
            await using var cmd = (Npgsql.NpgsqlCommand)db.CreateCommand("set local enable_seqscan = off; " + sql[..split] + "explain " + sql[split..]);
            cmd.Parameters.AddWithValue("vector", new Pgvector.HalfVector(LocalEmbedder.Embed("pump seal").Select(v => (Half)v).ToArray()));
            cmd.Parameters.AddWithValue("text", "pump seal");
            cmd.Parameters.AddWithValue("language", "english");
            cmd.Parameters.AddWithValue("embedder", LocalEmbedder.Id);
            cmd.Parameters.AddWithValue("k", 40);
            cmd.Parameters.AddWithValue("limit", 10);
            cmd.Parameters.AddWithValue("rrf", 60.0);
            var lines = new StringBuilder();
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                lines.AppendLine(reader.GetString(0));
            }
            return lines.ToString();
        });

        Assert.Contains("ix_knowledge_chunks_embedding_384", plan, StringComparison.Ordinal);
        Assert.Contains("ix_knowledge_chunks_search", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SearchCommand_PrintsBothScores()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await ReadyAsync(org, "pumps.md", Pumps);
        var output = new StringWriter();
        var error = new StringWriter();

        var code = await AgentSpace.Admin.AdminCommands.RunAsync(["knowledge", "search", org.Org.Slug, "pump seal E-4471"], data.Services, output, error);

        Assert.True(code == 0, error.ToString());
        Assert.Contains("pumps.md · Pump maintenance", output.ToString(), StringComparison.Ordinal);
        Assert.Matches(@" 1\. fused 0\.\d{4} \| vector 0\.\d{4} \(#1\) \| text \d\.\d{4} \(#1\)", output.ToString());
    }

    private static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();
}
