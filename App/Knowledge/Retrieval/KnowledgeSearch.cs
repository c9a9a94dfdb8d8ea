using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Pgvector;

namespace AgentSpace.Knowledge;

/// <summary>A retrieved passage with both scores and ranks (null on the side that did not find it) and its fused rank.</summary>
public sealed record KnowledgeHit(Guid ChunkId, Guid DocumentId, string DocumentName, int Ordinal, string Text, int? Page, string HeadingPath,
    double? VectorScore, int? VectorRank, double? TextScore, int? TextRank, double FusedScore, int Rank);

/// <summary>
/// Whose documents: one agent's attached documents, a given set of documents (a boardroom brief's), or every ready
/// document of the organization (the playground).
/// </summary>
public sealed record KnowledgeScope(Guid? AgentId, IReadOnlyList<Guid>? DocumentIds = null)
{
    public static KnowledgeScope AllDocuments { get; } = new((Guid?)null);

    public static KnowledgeScope ForAgent(Guid agentId) => new(agentId);

    public static KnowledgeScope ForDocuments(IReadOnlyList<Guid> documentIds) => new(null, documentIds);
}

public sealed class KnowledgeSearchOptions
{
    /// <summary>HNSW candidate list size (<c>hnsw.ef_search</c>): recall against speed.</summary>
    public int EfSearch { get; set; } = 400;

    /// <summary>The k of reciprocal rank fusion.</summary>
    public int RrfK { get; set; } = 60;
}

/// <summary>
/// Hybrid retrieval over an organization's documents (<see cref="HybridSql"/>), in its own schema as its own role: another
/// organization's chunks are not reachable at all. With the built-in embedder the query is embedded and searched in one
/// unit of work; with a provider's, the query is embedded between two (no HTTP call inside a unit of work).
/// </summary>
public sealed class KnowledgeSearch(TenantOperation operations, KnowledgeEmbedders embedders, IOptions<KnowledgeSearchOptions> options)
{
    public const int MaxQueryLength = 1000;

    private const string Reason = "knowledge search";

    public Task<IReadOnlyList<KnowledgeHit>> SearchAsync(Actor actor, OrgRef org, string query, KnowledgeScope scope, int limit, CancellationToken ct, RetrievalMode mode = RetrievalMode.Hybrid)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return SearchAsync((what, work, token) => operations.RunAsync(actor, org, OrgRole.Viewer, what, work, token), query, scope, limit, mode, ct);
    }

    public Task<IReadOnlyList<KnowledgeHit>> SearchAsSystemAsync(Guid organizationId, string query, KnowledgeScope scope, int limit, CancellationToken ct,
        RetrievalMode mode = RetrievalMode.Hybrid) =>
        SearchAsync((_, work, token) => operations.RunAsSystemAsync(organizationId, Reason, work, token), query, scope, limit, mode, ct);

    private delegate Task<T> InTenant<T>(string what, Func<TenantWork, CancellationToken, Task<T>> work, CancellationToken ct);

    private async Task<IReadOnlyList<KnowledgeHit>> SearchAsync(InTenant<Step> inTenant, string query, KnowledgeScope scope, int limit, RetrievalMode mode,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var text = (query ?? "").Trim();
        if (text.Length > MaxQueryLength)
        {
            text = text[..MaxQueryLength];
        }
        limit = Math.Clamp(limit, 1, 50);
        var first = await inTenant("knowledge.search", async (work, token) =>
        {
            var settings = await work.Db.KnowledgeSettings.AsNoTracking().FirstOrDefaultAsync(s => s.Id == KnowledgeSettings.SingletonId, token);
            if (text.Length == 0)
            {
                return new Step([], null, null, settings);
            }
            if (settings?.EmbeddingProviderId is not { } providerId)
            {
                var local = KnowledgeEmbedders.Local;
                var vector = LocalEmbedder.Embed(text);
                return new Step(await RunAsync(work, text, vector, local, settings, scope, limit, mode, token), null, null, settings);
            }
            return new Step(null, providerId, await work.Db.ModelProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId, token), settings)
            {
                OrganizationId = work.Org.Id,
            };
        }, ct);
        if (first.Hits is { } done)
        {
            return done;
        }
        var embedder = await embedders.FromAsync(first.OrganizationId ?? Guid.Empty, first.Settings, first.Provider, ct);
        var embedded = await embedder.Generator.GenerateAsync([text], cancellationToken: ct);
        var queryVector = embedded[0].Vector.ToArray();
        var second = await inTenant("knowledge.search", async (work, token) =>
            new Step(await RunAsync(work, text, queryVector, embedder, first.Settings, scope, limit, mode, token), null, null, null), ct);
        return second.Hits!;
    }

    private sealed record Step(IReadOnlyList<KnowledgeHit>? Hits, Guid? ProviderId, Providers.ModelProvider? Provider, KnowledgeSettings? Settings)
    {
        public Guid? OrganizationId { get; init; }
    }

    private async Task<IReadOnlyList<KnowledgeHit>> RunAsync(TenantWork work, string text, float[] vector, KnowledgeEmbedder embedder, KnowledgeSettings? settings,
        KnowledgeScope scope, int limit, RetrievalMode mode, CancellationToken ct)
    {
        var sql = HybridSql.Build(embedder.Dimensions, scope.AgentId is not null, mode, options.Value.EfSearch, forDocuments: scope.DocumentIds is not null);
        await using var cmd = work.Db.CreateCommand(sql);
        var npgsql = (NpgsqlCommand)cmd;
        npgsql.Parameters.AddWithValue("vector", new HalfVector(vector.Select(v => (Half)v).ToArray()));
        npgsql.Parameters.AddWithValue("text", text);
        npgsql.Parameters.AddWithValue("language", settings?.Language ?? KnowledgeSchema.DefaultLanguage);
        npgsql.Parameters.AddWithValue("embedder", embedder.Id);
        npgsql.Parameters.AddWithValue("k", Math.Max(limit * 4, 40));
        npgsql.Parameters.AddWithValue("limit", limit);
        npgsql.Parameters.AddWithValue("rrf", (double)options.Value.RrfK);
        if (scope.AgentId is { } agentId)
        {
            npgsql.Parameters.AddWithValue("agent", agentId);
        }
        if (scope.DocumentIds is { } documentIds)
        {
            npgsql.Parameters.AddWithValue("documents", documentIds.ToArray());
        }
        var hits = new List<KnowledgeHit>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            hits.Add(new KnowledgeHit(
                reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetDouble(7), reader.IsDBNull(8) ? null : (int)reader.GetInt64(8),
                reader.IsDBNull(9) ? null : reader.GetDouble(9), reader.IsDBNull(10) ? null : (int)reader.GetInt64(10),
                reader.GetDouble(11), hits.Count + 1));
        }
        return hits;
    }
}
