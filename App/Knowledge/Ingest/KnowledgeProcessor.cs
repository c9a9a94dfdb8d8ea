using System.Data;
using System.Diagnostics;
using System.Globalization;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace AgentSpace.Knowledge;

/// <summary>A job this node holds the lease of.</summary>
public sealed record ClaimedJob(Guid Id, Guid DocumentId, KnowledgeJobKind Kind, int Attempts);

/// <summary>
/// Turns a queued document into searchable chunks: extract (from the temp file), chunk, write the chunks, delete the
/// file, embed in batches, mark ready. Every stage is written before the next starts, so a process that dies
/// anywhere leaves a job whose lease runs out and a document whose status says where to resume: before the chunks
/// are written it starts again from the file; after, it embeds what has no vector yet. Never twice: the chunks of a
/// document are replaced, not added, and a chunk keeps one vector per embedder.
/// </summary>
public sealed class KnowledgeProcessor(
    TenantOperation operations,
    IDocumentExtractor extractor,
    DocumentChunker chunker,
    IKnowledgeEmbedders embedders,
    ChunkEmbedder chunkEmbedder,
    KnowledgeTempFiles files,
    TimeProvider clock,
    ILogger<KnowledgeProcessor> logger)
{
    private const string Reason = "knowledge processing";

    /// <summary>How long a claim holds without news from its process; renewed with every progress write.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    /// <summary>An upload another node received is failed visibly after this long (its file is on that node).</summary>
    public static readonly TimeSpan ForeignUploadGrace = TimeSpan.FromHours(1);

    public const int MaxAttempts = 3;

    public const string LostUploadMessage =
        "The uploaded file was lost before it could be read (the server restarted or moved). Upload it again.";

    public const string FailedMessage = "Processing failed. Try uploading it again; if it keeps failing, tell an Admin.";

    /// <summary>
    /// After this node (re)starts: takes back the leases it held before (that process is gone) and returns the documents
    /// whose uploads wait in this node's temp folder, which the start-up sweep keeps.
    /// </summary>
    public Task<IReadOnlyList<Guid>> RecoverAsync(Guid organizationId, CancellationToken ct) =>
        operations.RunAsSystemAsync<IReadOnlyList<Guid>>(organizationId, Reason, async (work, token) =>
        {
            await work.Db.KnowledgeJobs.Where(j => j.LeaseOwner == files.Node)
                .ExecuteUpdateAsync(u => u.SetProperty(j => j.LeaseUntil, (DateTimeOffset?)null).SetProperty(j => j.LeaseOwner, (string?)null), token);
            return await (from j in work.Db.KnowledgeJobs
                          join d in work.Db.KnowledgeDocuments on j.DocumentId equals d.Id
                          where j.Kind == KnowledgeJobKind.Ingest && j.UploadNode == files.Node
                                && (d.Status == DocumentStatus.Queued || d.Status == DocumentStatus.Extracting || d.Status == DocumentStatus.Chunking)
                          select d.Id).ToListAsync(token);
        }, ct);

    /// <summary>Whether the organization has a job this node could take now.</summary>
    public Task<bool> HasWorkAsync(Guid organizationId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var stale = now - ForeignUploadGrace;
        return operations.RunAsSystemAsync(organizationId, Reason, (work, token) =>
            work.Db.KnowledgeJobs.AnyAsync(j => (j.LeaseUntil == null || j.LeaseUntil < now)
                && (j.Kind == KnowledgeJobKind.Reembed || j.UploadNode == files.Node || j.CreatedAt < stale), token), ct);
    }

    /// <summary>Claims the oldest job this node may run (with <c>FOR UPDATE SKIP LOCKED</c>), or null.</summary>
    public Task<ClaimedJob?> ClaimAsync(Guid organizationId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
        {
            await using var cmd = work.Db.CreateCommand("""
                update knowledge_jobs set lease_until = @until, lease_owner = @node, attempts = attempts + 1
                where id = (select id from knowledge_jobs
                            where (lease_until is null or lease_until < @now)
                              and (kind = 'Reembed' or upload_node = @node or created_at < @stale)
                            order by created_at limit 1 for update skip locked)
                returning id, document_id, kind, attempts
                """)
                .With("until", now + Lease, DbType.DateTimeOffset)
                .With("node", files.Node, DbType.String)
                .With("now", now, DbType.DateTimeOffset)
                .With("stale", now - ForeignUploadGrace, DbType.DateTimeOffset);
            await using var reader = await cmd.ExecuteReaderAsync(token);
            if (!await reader.ReadAsync(token))
            {
                return null;
            }
            return new ClaimedJob(reader.GetGuid(0), reader.GetGuid(1), Enum.Parse<KnowledgeJobKind>(reader.GetString(2)), reader.GetInt32(3));
        }, ct);
    }

    /// <summary>Runs every job of the organization this node may take, one after another; returns how many ended.</summary>
    public async Task<int> RunPendingAsync(Guid organizationId, CancellationToken ct)
    {
        var ended = 0;
        while (await ClaimAsync(organizationId, ct) is { } job)
        {
            if (await ProcessAsync(organizationId, job, ct))
            {
                ended++;
            }
        }
        return ended;
    }

    /// <summary>Runs one claimed job; true when it ended (ready or failed), false when it was put back for a retry.</summary>
    public async Task<bool> ProcessAsync(Guid organizationId, ClaimedJob job, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(job);
        var started = Stopwatch.GetTimestamp();
        var upload = files.UploadPath(job.DocumentId);
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            var document = await operations.RunAsSystemAsync(organizationId, Reason, (work, token) =>
                work.Db.KnowledgeDocuments.AsNoTracking().FirstOrDefaultAsync(d => d.Id == job.DocumentId, token), ct);
            if (document is null)
            {
                // Deleted meanwhile (its job went with it).
                files.Delete(upload);
                return true;
            }
            if (job.Kind == KnowledgeJobKind.Ingest && document.Status is DocumentStatus.Queued or DocumentStatus.Extracting or DocumentStatus.Chunking)
            {
                if (!File.Exists(upload))
                {
                    await FailAsync(organizationId, job, document.Name, LostUploadMessage, ct);
                    return true;
                }
                await StageAsync(organizationId, job, DocumentStatus.Extracting, 0, 0, lost, ct);
                var extracted = await extractor.ExtractAsync(upload, document.Name, lost.Token);
                await StageAsync(organizationId, job, DocumentStatus.Chunking, 0, 0, lost, ct);
                var chunks = await Task.Run(() => chunker.Chunk(extracted, lost.Token), lost.Token);
                if (chunks.Count == 0)
                {
                    throw new DocumentRejectedException("The file has no readable text.");
                }
                await WriteChunksAsync(organizationId, job, extracted, chunks, lost.Token);
                files.Delete(upload);
            }
            else
            {
                var total = await operations.RunAsSystemAsync(organizationId, Reason, (work, token) =>
                    work.Db.KnowledgeChunks.CountAsync(c => c.DocumentId == job.DocumentId, token), ct);
                // A ready document stays searchable (by its words at least) while it is embedded again.
                await StageAsync(organizationId, job, document.Status == DocumentStatus.Ready ? null : DocumentStatus.Embedding, 0, total, lost, ct);
            }
            var reembedding = job.Kind == KnowledgeJobKind.Reembed && document.Status == DocumentStatus.Ready;

            var embedder = await embedders.ForOrganizationAsync(organizationId, lost.Token);
            var progress = new LatestProgress();
            var embedding = chunkEmbedder.EmbedDocumentAsync(organizationId, job.DocumentId, embedder, progress, lost.Token);
            while (await Task.WhenAny(embedding, Task.Delay(TimeSpan.FromSeconds(1), clock, ct)) != embedding)
            {
                if (progress.Value is { } p)
                {
                    await StageAsync(organizationId, job, reembedding ? null : DocumentStatus.Embedding, p.Done, p.Total, lost, ct);
                }
            }
            await embedding;
            await FinishAsync(organizationId, job, embedder.Id, Stopwatch.GetElapsedTime(started), ct);
            return true;
        }
        catch (DocumentRejectedException ex)
        {
            files.Delete(upload);
            await FailAsync(organizationId, job, null, ex.Message, ct);
            return true;
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // The document (and its job) was deleted while it was processed.
            files.Delete(upload);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var message = ex is UserFacingException ? ex.Message : FailedMessage;
            if (ex is not UserFacingException)
            {
                logger.LogError(ex, "Processing document {DocumentId} failed (attempt {Attempt})", job.DocumentId, job.Attempts);
            }
            if (job.Attempts >= MaxAttempts)
            {
                files.Delete(upload);
                await FailAsync(organizationId, job, null, message, ct);
                return true;
            }
            await RetryLaterAsync(organizationId, job, message, ct);
            return false;
        }
    }

    /// <summary>Writes the stage and progress and renews the lease; cancels <paramref name="lost"/> when the job is gone.</summary>
    private async Task StageAsync(Guid organizationId, ClaimedJob job, DocumentStatus? status, int done, int total, CancellationTokenSource lost, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var alive = await operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
        {
            var renewed = await work.Db.KnowledgeJobs.Where(j => j.Id == job.Id)
                .ExecuteUpdateAsync(u => u.SetProperty(j => j.LeaseUntil, now + Lease), token);
            if (renewed == 0)
            {
                return false;
            }
            await work.Db.KnowledgeDocuments.Where(d => d.Id == job.DocumentId)
                .ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, d => status ?? d.Status).SetProperty(d => d.ProgressDone, done)
                    .SetProperty(d => d.ProgressTotal, total).SetProperty(d => d.UpdatedAt, now), token);
            return true;
        }, ct);
        if (!alive)
        {
            await lost.CancelAsync();
            lost.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Replaces the document's chunks with these (binary COPY, no vectors yet) and moves it to embedding, in one unit of work.
    /// </summary>
    private async Task WriteChunksAsync(Guid organizationId, ClaimedJob job, ExtractedDocument extracted, IReadOnlyList<ChunkDraft> chunks, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var alive = await operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
        {
            var document = await work.Db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.Id == job.DocumentId, token);
            if (document is null || !await work.Db.KnowledgeJobs.AnyAsync(j => j.Id == job.Id, token))
            {
                return false;
            }
            // A resumed job may have written chunks before it died: replaced, never added to.
            await work.Db.KnowledgeChunks.Where(c => c.DocumentId == job.DocumentId).ExecuteDeleteAsync(token);
            var connection = (NpgsqlConnection)work.Db.Database.GetDbConnection();
            await using (var import = await connection.BeginBinaryImportAsync(
                "copy knowledge_chunks (id, document_id, ordinal, text, token_count, page, heading_path, start_char) from stdin (format binary)", token))
            {
                foreach (var chunk in chunks)
                {
                    await import.StartRowAsync(token);
                    await import.WriteAsync(Guid.CreateVersion7(now), NpgsqlDbType.Uuid, token);
                    await import.WriteAsync(job.DocumentId, NpgsqlDbType.Uuid, token);
                    await import.WriteAsync(chunk.Ordinal, NpgsqlDbType.Integer, token);
                    await import.WriteAsync(chunk.Text, NpgsqlDbType.Text, token);
                    await import.WriteAsync(chunk.TokenCount, NpgsqlDbType.Integer, token);
                    if (chunk.Page is { } page)
                    {
                        await import.WriteAsync(page, NpgsqlDbType.Integer, token);
                    }
                    else
                    {
                        await import.WriteNullAsync(token);
                    }
                    await import.WriteAsync(chunk.HeadingPath, NpgsqlDbType.Text, token);
                    await import.WriteAsync(chunk.StartChar, NpgsqlDbType.Integer, token);
                }
                await import.CompleteAsync(token);
            }
            var language = await work.Db.KnowledgeSettings.Where(s => s.Id == KnowledgeSettings.SingletonId).Select(s => s.Language).FirstOrDefaultAsync(token)
                ?? KnowledgeSchema.DefaultLanguage;
            if (language != KnowledgeSchema.DefaultLanguage)
            {
                await using var cmd = work.Db.CreateCommand("update knowledge_chunks set language = @language::regconfig where document_id = @document")
                    .With("language", language, DbType.String)
                    .With("document", job.DocumentId, DbType.Guid);
                await cmd.ExecuteNonQueryAsync(token);
            }
            document.Kind = extracted.Kind;
            document.CharCount = extracted.TotalChars;
            document.ChunkCount = chunks.Count;
            document.Status = DocumentStatus.Embedding;
            document.ProgressDone = 0;
            document.ProgressTotal = chunks.Count;
            document.Error = null;
            document.UpdatedAt = now;
            await work.Db.SaveChangesAsync(token);
            return true;
        }, ct);
        if (!alive)
        {
            throw new OperationCanceledException(ct);
        }
    }

    private Task FinishAsync(Guid organizationId, ClaimedJob job, string embedderId, TimeSpan took, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
        {
            var document = await work.Db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.Id == job.DocumentId, token);
            var removed = await work.Db.KnowledgeJobs.Where(j => j.Id == job.Id).ExecuteDeleteAsync(token);
            if (document is null || removed == 0)
            {
                return;
            }
            document.Status = DocumentStatus.Ready;
            document.ProgressDone = document.ChunkCount;
            document.ProgressTotal = document.ChunkCount;
            document.Embedder = embedderId;
            document.Error = null;
            document.ReadyAt = now;
            document.UpdatedAt = now;
            await work.Db.SaveChangesAsync(token);
            work.Audit(KnowledgeAuditActions.Processed, document.Name, new Dictionary<string, string?>
            {
                ["document_id"] = document.Id.ToString(),
                ["job"] = job.Kind.ToString(),
                ["kind"] = document.Kind?.ToString(),
                ["chunks"] = document.ChunkCount.ToString(CultureInfo.InvariantCulture),
                ["characters"] = document.CharCount.ToString(CultureInfo.InvariantCulture),
                ["embedder"] = embedderId,
                ["duration_ms"] = ((long)took.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            });
        }, ct);
    }

    /// <summary>Marks the document failed with the reason, removes its chunks and its job, and audits it.</summary>
    private Task FailAsync(Guid organizationId, ClaimedJob job, string? name, string reason, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
        {
            var document = await work.Db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.Id == job.DocumentId, token);
            await work.Db.KnowledgeJobs.Where(j => j.Id == job.Id).ExecuteDeleteAsync(token);
            if (document is null)
            {
                return;
            }
            await work.Db.KnowledgeChunks.Where(c => c.DocumentId == job.DocumentId).ExecuteDeleteAsync(token);
            document.Status = DocumentStatus.Failed;
            document.Error = reason.Length <= 1000 ? reason : reason[..1000];
            document.ChunkCount = 0;
            document.ProgressDone = 0;
            document.ProgressTotal = 0;
            document.UpdatedAt = now;
            await work.Db.SaveChangesAsync(token);
            work.Audit(KnowledgeAuditActions.Failed, name ?? document.Name, new Dictionary<string, string?>
            {
                ["document_id"] = document.Id.ToString(),
                ["reason"] = document.Error,
            }, Audit.AuditOutcome.Failure);
        }, CancellationToken.None);
    }

    /// <summary>Puts the job back with a growing delay, the reason shown on the document meanwhile.</summary>
    private Task RetryLaterAsync(Guid organizationId, ClaimedJob job, string reason, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var retryAt = now + TimeSpan.FromSeconds(30 * job.Attempts);
        return operations.RunAsSystemAsync(organizationId, Reason, async (work, token) =>
        {
            await work.Db.KnowledgeJobs.Where(j => j.Id == job.Id)
                .ExecuteUpdateAsync(u => u.SetProperty(j => j.LeaseUntil, retryAt).SetProperty(j => j.LeaseOwner, (string?)null), token);
            await work.Db.KnowledgeDocuments.Where(d => d.Id == job.DocumentId)
                .ExecuteUpdateAsync(u => u.SetProperty(d => d.Error, $"{reason} Retrying at {retryAt:HH:mm} UTC.").SetProperty(d => d.UpdatedAt, now), token);
        }, CancellationToken.None);
    }

    private sealed class LatestProgress : IProgress<(int Done, int Total)>
    {
        private readonly Lock _lock = new();
        private (int Done, int Total)? _value;

        public (int Done, int Total)? Value
        {
            get
            {
                lock (_lock)
                {
                    return _value;
                }
            }
        }

        public void Report((int Done, int Total) value)
        {
            lock (_lock)
            {
                _value = value;
            }
        }
    }
}
