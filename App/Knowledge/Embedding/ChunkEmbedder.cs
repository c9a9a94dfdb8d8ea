using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Pgvector;

namespace AgentSpace.Knowledge;

/// <summary>
/// Gives a document's chunks vectors from an embedder, in batches: each batch is read in a short unit of work, embedded
/// outside any (a provider embedder makes HTTP calls), and written in another. Only chunks without a vector from this
/// embedder are taken, so a run that died half-way continues where it stopped and nothing is embedded twice.
/// </summary>
public sealed class ChunkEmbedder(TenantOperation operations)
{
    private const string Reason = "knowledge embedding";

    public const int BatchSize = 64;

    public async Task<int> EmbedDocumentAsync(Guid organizationId, Guid documentId, KnowledgeEmbedder embedder,
        IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        var embedded = 0;
        while (true)
        {
            var (batch, done, total) = await operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
            {
                var chunks = work.Db.KnowledgeChunks.AsNoTracking().Where(c => c.DocumentId == documentId);
                var pending = await chunks.Where(c => c.Embedder != embedder.Id || c.Embedding == null).OrderBy(c => c.Ordinal).Take(BatchSize)
                    .Select(c => new { c.Id, c.HeadingPath, c.Text }).ToListAsync(token);
                var counts = await chunks.GroupBy(_ => 1)
                    .Select(g => new { All = g.Count(), Done = g.Count(c => c.Embedder == embedder.Id && c.Embedding != null) })
                    .FirstOrDefaultAsync(token);
                return (pending, counts?.Done ?? 0, counts?.All ?? 0);
            }, ct);
            progress?.Report((done, total));
            if (batch.Count == 0)
            {
                return embedded;
            }
            var vectors = await embedder.Generator.GenerateAsync(batch.Select(c => TextOf(c.HeadingPath, c.Text)), cancellationToken: ct);
            if (vectors.Count != batch.Count)
            {
                throw new KnowledgeRuleException($"The embedder returned {vectors.Count} vectors for {batch.Count} passages.", 502);
            }
            await operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
            {
                var ids = batch.Select(c => c.Id).ToList();
                var stored = await work.Db.KnowledgeChunks.Where(c => ids.Contains(c.Id)).ToDictionaryAsync(c => c.Id, token);
                for (var i = 0; i < batch.Count; i++)
                {
                    if (stored.TryGetValue(batch[i].Id, out var chunk))
                    {
                        var vector = vectors[i].Vector;
                        chunk.Embedding = new HalfVector(vector.ToArray().Select(v => (Half)v).ToArray());
                        chunk.Embedder = embedder.Id;
                        chunk.Dimensions = vector.Length;
                    }
                }
                await work.Db.SaveChangesAsync(token);
            }, ct);
            embedded += batch.Count;
        }
    }

    /// <summary>What is embedded for a chunk: its heading path and text (the same the full-text index covers).</summary>
    public static string TextOf(string headingPath, string text) => headingPath.Length == 0 ? text : headingPath + "\n" + text;
}
