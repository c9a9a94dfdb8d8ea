using System.Globalization;
using System.Security.Cryptography;
using AgentSpace.Identity;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Knowledge;

public sealed record DocumentRow(Guid Id, string Name, DocumentKind? Kind, long SizeBytes, DocumentStatus Status, int ProgressDone, int ProgressTotal,
    string? Error, int ChunkCount, DateTimeOffset UploadedAt, Guid UploadedBy, string? Embedder, IReadOnlyList<string> Agents, bool Reembedding = false)
{
    public bool IsWorking => Reembedding || Status is DocumentStatus.Queued or DocumentStatus.Extracting or DocumentStatus.Chunking or DocumentStatus.Embedding;

    public static DocumentRow From(KnowledgeDocument d, IReadOnlyList<string> agents, bool reembedding) =>
        new(d.Id, d.Name, d.Kind, d.SizeBytes, d.Status, d.ProgressDone, d.ProgressTotal, d.Error, d.ChunkCount, d.UploadedAt, d.UploadedBy, d.Embedder,
            agents, reembedding);
}

/// <summary>An embedding model an Admin can choose: a provider's, or the built-in one (null provider).</summary>
public sealed record EmbedderChoice(Guid? ProviderId, string Label, string? DefaultModel);

/// <summary>The knowledge settings as the page shows them.</summary>
public sealed record KnowledgeSettingsView(Guid? ProviderId, string? Model, string Language, string EmbedderId, int StaleDocuments,
    IReadOnlyList<EmbedderChoice> Choices, IReadOnlyList<string> Languages);

public sealed record KnowledgeOverview(OrgContext Org, IReadOnlyList<DocumentRow> Documents, long UsedBytes, long QuotaBytes, long MaxFileBytes)
{
    public bool AnyWorking => Documents.Any(d => d.IsWorking);
}

/// <summary>What happened to one uploaded file.</summary>
public sealed record UploadResult(Guid DocumentId, string Name, bool AlreadyThere, string Message);

/// <summary>
/// The knowledge base's documents: upload (streamed to a temp file, then queued), list, delete. Members upload and
/// delete what they uploaded, Admins delete any, Viewers read.
/// </summary>
public sealed class KnowledgeService(
    TenantOperation operations,
    KnowledgeTempFiles files,
    KnowledgeQueue queue,
    IOptions<KnowledgeOptions> options,
    TimeProvider clock)
{
    private const int CopyBuffer = 81920;

    public Task<KnowledgeOverview> ListAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "knowledge.list", async (work, token) =>
        {
            var documents = await work.Db.KnowledgeDocuments.AsNoTracking().OrderByDescending(d => d.UploadedAt).ToListAsync(token);
            var reembedding = (await work.Db.KnowledgeJobs.AsNoTracking().Where(j => j.Kind == KnowledgeJobKind.Reembed).Select(j => j.DocumentId).ToListAsync(token)).ToHashSet();
            var attached = await (from a in work.Db.AgentDocuments
                                  join g in work.Db.Agents on a.AgentId equals g.Id
                                  select new { a.DocumentId, g.Name }).ToListAsync(token);
            var agentsOf = attached.GroupBy(a => a.DocumentId).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)[.. g.Select(a => a.Name).Order(StringComparer.OrdinalIgnoreCase)]);
            var rows = documents.Select(d => DocumentRow.From(d, agentsOf.GetValueOrDefault(d.Id, []), reembedding.Contains(d.Id))).ToList();
            return new KnowledgeOverview(work.Org, rows, documents.Sum(d => d.SizeBytes), options.Value.OrgQuotaBytes, options.Value.MaxFileBytes);
        }, ct);

    /// <summary>
    /// Streams <paramref name="content"/> to a temp file (never more than the size limit), then records the document
    /// and its processing job in one unit of work. Identical content already here is not stored again.
    /// </summary>
    public async Task<UploadResult> UploadAsync(Actor actor, OrgRef org, string? fileName, Stream content, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        // Refused before a byte is read when the person may not upload.
        var context = await operations.RunAsync(actor, org, OrgRole.Member, "knowledge.upload", (w, _) => Task.FromResult(w.Org), ct);
        return await StoreAsync(context.Id, DocumentNames.Sanitize(fileName), content, actor.UserId,
            (id, work) => operations.RunAsync(actor, OrgRef.ById(context.Id), OrgRole.Member, "knowledge.upload", work, ct), ct);
    }

    /// <summary>The same for an operator's bulk import (recorded as the system, with the import as its reason).</summary>
    public Task<UploadResult> UploadAsSystemAsync(Guid organizationId, string? fileName, Stream content, CancellationToken ct) =>
        StoreAsync(organizationId, DocumentNames.Sanitize(fileName), content, Guid.Empty,
            (id, work) => operations.RunAsSystemAsync(organizationId, "knowledge import", work, ct), ct);

    private async Task<UploadResult> StoreAsync(Guid organizationId, string name, Stream content, Guid uploader,
        Func<Guid, Func<TenantWork, CancellationToken, Task<UploadResult>>, Task<UploadResult>> inTenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(content);
        var limit = options.Value.MaxFileBytes;
        var id = Guid.CreateVersion7(clock.GetUtcNow());
        var partial = files.PartialPath(id);
        var upload = files.UploadPath(id);
        var kept = false;
        try
        {
            long size = 0;
            byte[] hash;
            await using (var output = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, CopyBuffer, FileOptions.Asynchronous))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[CopyBuffer];
                int read;
                while ((read = await content.ReadAsync(buffer, ct)) > 0)
                {
                    size += read;
                    if (size > limit)
                    {
                        throw new KnowledgeRuleException($"{name} is larger than the limit of {Megabytes(limit)} per file.");
                    }
                    sha.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), ct);
                }
                hash = sha.GetHashAndReset();
            }
            if (size == 0)
            {
                throw new KnowledgeRuleException($"{name} is empty.");
            }
            // Renamed before the row commits: a crash after the commit finds the file; one before it leaves a file the
            // start-up sweep removes.
            File.Move(partial, upload);
            var result = await inTenant(id, async (work, token) =>
            {
                // One upload at a time per organization, so two cannot both fit under the quota that only one fits.
                await using (var cmd = work.Db.CreateCommand("select pg_advisory_xact_lock(hashtext('agentspace.knowledge.upload'))"))
                {
                    await cmd.ExecuteNonQueryAsync(token);
                }
                var existing = await work.Db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.ContentHash == hash, token);
                if (existing is not null && existing.Status != DocumentStatus.Failed)
                {
                    return new UploadResult(existing.Id, existing.Name, true,
                        existing.Name == name ? $"{name} is already here." : $"{name} has the same content as {existing.Name}, which is already here.");
                }
                if (existing is not null)
                {
                    // A failed attempt of the same content gives way to the new one.
                    work.Db.KnowledgeDocuments.Remove(existing);
                }
                var used = await work.Db.KnowledgeDocuments.Where(d => d.Id != (existing == null ? Guid.Empty : existing.Id)).SumAsync(d => (long?)d.SizeBytes, token) ?? 0;
                if (used + size > options.Value.OrgQuotaBytes)
                {
                    throw new KnowledgeRuleException(
                        $"{name} does not fit: the organization's documents take {Megabytes(used)} of its {Megabytes(options.Value.OrgQuotaBytes)}. Delete documents to make room.");
                }
                var now = clock.GetUtcNow();
                work.Db.KnowledgeDocuments.Add(new KnowledgeDocument
                {
                    Id = id,
                    Name = name,
                    SizeBytes = size,
                    ContentHash = hash,
                    Status = DocumentStatus.Queued,
                    UploadedBy = uploader,
                    UploadedAt = now,
                    UpdatedAt = now,
                });
                work.Db.KnowledgeJobs.Add(new KnowledgeJob
                {
                    Id = Guid.CreateVersion7(now),
                    DocumentId = id,
                    Kind = KnowledgeJobKind.Ingest,
                    UploadNode = files.Node,
                    CreatedAt = now,
                });
                await work.Db.SaveChangesAsync(token);
                work.Audit(KnowledgeAuditActions.Uploaded, name, new Dictionary<string, string?>
                {
                    ["document_id"] = id.ToString(),
                    ["bytes"] = size.ToString(CultureInfo.InvariantCulture),
                    ["sha256"] = Convert.ToHexStringLower(hash),
                });
                return new UploadResult(id, name, false, $"{name} is queued for processing.");
            });
            kept = !result.AlreadyThere;
            if (kept)
            {
                queue.Signal(organizationId);
            }
            return result;
        }
        finally
        {
            if (!kept)
            {
                files.Delete(partial);
                files.Delete(upload);
            }
        }
    }

    /// <summary>Deletes a document with its chunks, vectors and attachments (the uploader or an Admin).</summary>
    public Task DeleteAsync(Actor actor, OrgRef org, Guid documentId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Member, "knowledge.delete", async (work, token) =>
        {
            var document = await work.Db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.Id == documentId, token) ?? throw new KnowledgeNotFoundException();
            if (document.UploadedBy != actor.UserId && !work.Org.Can(OrgRole.Admin))
            {
                throw new KnowledgeRuleException("Only the person who uploaded a document, or an Admin, can delete it.", 403);
            }
            var chunks = document.ChunkCount;
            var agents = await work.Db.AgentDocuments.CountAsync(a => a.DocumentId == documentId, token);
            work.Db.KnowledgeDocuments.Remove(document);
            await work.Db.SaveChangesAsync(token);
            work.Audit(KnowledgeAuditActions.Deleted, document.Name, new Dictionary<string, string?>
            {
                ["document_id"] = documentId.ToString(),
                ["chunks"] = chunks.ToString(CultureInfo.InvariantCulture),
                ["attached_agents"] = agents.ToString(CultureInfo.InvariantCulture),
            });
        }, ct);

    /// <summary>One document's state, for background callers (the import command).</summary>
    public Task<DocumentRow?> StatusAsSystemAsync(Guid organizationId, Guid documentId, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, "knowledge status", async (work, token) =>
        {
            var d = await work.Db.KnowledgeDocuments.AsNoTracking().FirstOrDefaultAsync(x => x.Id == documentId, token);
            return d is null ? null : DocumentRow.From(d, [], false);
        }, ct);

    public Task<KnowledgeSettingsView> GetSettingsAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "knowledge.settings", (work, token) => SettingsViewAsync(work, token), ct);

    /// <summary>
    /// Chooses the embedder (null provider: the built-in one) and the text-search language (Admins). A new language
    /// re-indexes the words of every passage at once; a new embedder leaves existing vectors until re-embedding.
    /// </summary>
    public Task<KnowledgeSettingsView> SaveSettingsAsync(Actor actor, OrgRef org, Guid? providerId, string? model, string language, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "knowledge.settings.save", async (work, token) =>
        {
            var languages = await LanguagesAsync(work, token);
            var chosenLanguage = (language ?? "").Trim();
            if (!languages.Contains(chosenLanguage))
            {
                throw new KnowledgeRuleException("Choose a language from the list.");
            }
            var chosenModel = string.IsNullOrWhiteSpace(model) ? null : model.Trim();
            if (providerId is { } id)
            {
                var provider = await work.Db.ModelProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, token)
                    ?? throw new KnowledgeRuleException("That provider no longer exists.");
                if (provider.Kind != Providers.ModelProviderKind.OpenAICompatible)
                {
                    throw new KnowledgeRuleException($"{provider.Name} offers no embeddings here; choose an OpenAI-compatible provider or the built-in embedder.");
                }
                chosenModel ??= provider.EmbeddingModel;
                if (chosenModel is null || chosenModel.Length > 200)
                {
                    throw new KnowledgeRuleException("Enter the embedding model's name (at most 200 characters), for example text-embedding-3-small.");
                }
            }
            else
            {
                chosenModel = null;
            }
            var settings = await work.Db.KnowledgeSettings.FirstOrDefaultAsync(x => x.Id == KnowledgeSettings.SingletonId, token);
            if (settings is null)
            {
                settings = new KnowledgeSettings { Id = KnowledgeSettings.SingletonId, UpdatedAt = clock.GetUtcNow() };
                work.Db.KnowledgeSettings.Add(settings);
            }
            var languageChanged = settings.Language != chosenLanguage;
            settings.EmbeddingProviderId = providerId;
            settings.EmbeddingModel = chosenModel;
            settings.Language = chosenLanguage;
            settings.UpdatedAt = clock.GetUtcNow();
            await work.Db.SaveChangesAsync(token);
            if (languageChanged)
            {
                await using var cmd = work.Db.CreateCommand("update knowledge_chunks set language = @language::regconfig")
                    .With("language", chosenLanguage, System.Data.DbType.String);
                await cmd.ExecuteNonQueryAsync(token);
            }
            work.Audit(KnowledgeAuditActions.SettingsChanged, null, new Dictionary<string, string?>
            {
                ["embedder"] = KnowledgeEmbedders.IdFor(settings),
                ["language"] = chosenLanguage,
            });
            return await SettingsViewAsync(work, token);
        }, ct);

    /// <summary>Queues every ready document embedded with another embedder for re-embedding (Admins); returns how many.</summary>
    public async Task<int> StartReembedAsync(Actor actor, OrgRef org, CancellationToken ct)
    {
        var (organizationId, count) = await operations.RunAsync(actor, org, OrgRole.Admin, "knowledge.reembed", async (work, token) =>
        {
            var settings = await work.Db.KnowledgeSettings.AsNoTracking().FirstOrDefaultAsync(x => x.Id == KnowledgeSettings.SingletonId, token);
            var current = KnowledgeEmbedders.IdFor(settings);
            var queued = await work.Db.KnowledgeJobs.Select(j => j.DocumentId).ToListAsync(token);
            var stale = await work.Db.KnowledgeDocuments.Where(d => d.Status == DocumentStatus.Ready && d.Embedder != current && !queued.Contains(d.Id))
                .Select(d => d.Id).ToListAsync(token);
            var now = clock.GetUtcNow();
            foreach (var id in stale)
            {
                work.Db.KnowledgeJobs.Add(new KnowledgeJob { Id = Guid.CreateVersion7(now), DocumentId = id, Kind = KnowledgeJobKind.Reembed, UploadNode = files.Node, CreatedAt = now });
            }
            await work.Db.SaveChangesAsync(token);
            if (stale.Count > 0)
            {
                work.Audit(KnowledgeAuditActions.ReembedStarted, null, new Dictionary<string, string?>
                {
                    ["documents"] = stale.Count.ToString(CultureInfo.InvariantCulture),
                    ["embedder"] = current,
                });
            }
            return (work.Org.Id, stale.Count);
        }, ct);
        if (count > 0)
        {
            queue.Signal(organizationId);
        }
        return count;
    }

    private static async Task<KnowledgeSettingsView> SettingsViewAsync(TenantWork work, CancellationToken ct)
    {
        var settings = await work.Db.KnowledgeSettings.AsNoTracking().FirstOrDefaultAsync(x => x.Id == KnowledgeSettings.SingletonId, ct);
        var current = KnowledgeEmbedders.IdFor(settings);
        var stale = await work.Db.KnowledgeDocuments.CountAsync(d => d.Status == DocumentStatus.Ready && d.Embedder != current, ct);
        var providers = await work.Db.ModelProviders.AsNoTracking().Where(p => p.Kind == Providers.ModelProviderKind.OpenAICompatible)
            .OrderBy(p => p.Name).Select(p => new EmbedderChoice(p.Id, p.Name, p.EmbeddingModel)).ToListAsync(ct);
        return new KnowledgeSettingsView(settings?.EmbeddingProviderId, settings?.EmbeddingModel, settings?.Language ?? KnowledgeSchema.DefaultLanguage,
            current, stale, [new EmbedderChoice(null, "Built-in (offline, no provider)", null), .. providers], await LanguagesAsync(work, ct));
    }

    private static async Task<IReadOnlyList<string>> LanguagesAsync(TenantWork work, CancellationToken ct)
    {
        await using var cmd = work.Db.CreateCommand("select cfgname::text from pg_catalog.pg_ts_config where cfgnamespace = 'pg_catalog'::regnamespace order by 1");
        var names = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            names.Add(reader.GetString(0));
        }
        return names;
    }

    internal static string Megabytes(long bytes) =>
        bytes >= 1024L * 1024 * 1024 && bytes % (1024L * 1024 * 1024) == 0
            ? (bytes / (1024L * 1024 * 1024)).ToString(CultureInfo.InvariantCulture) + " GB"
        : bytes >= 1024 * 1024
            ? (bytes / (1024d * 1024)).ToString(bytes % (1024 * 1024) == 0 ? "0" : "0.#", CultureInfo.InvariantCulture) + " MB"
            : (bytes / 1024d).ToString("0.#", CultureInfo.InvariantCulture) + " KB";
}
