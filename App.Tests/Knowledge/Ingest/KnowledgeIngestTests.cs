using System.Text;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Knowledge.Ingest;

/// <summary>Uploads processed by the test itself (no background worker), with small limits so they can be reached.</summary>
public sealed class KnowledgeIngestFixture : AppServices
{
    public const long MaxFileBytes = 256 * 1024;
    public const long QuotaBytes = 600 * 1024;

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Knowledge:BackgroundProcessing"] = "false",
        ["Knowledge:MaxFileBytes"] = MaxFileBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Knowledge:OrgQuotaBytes"] = QuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public async Task<UploadResult> UploadAsync(Actor actor, OrgSummary org, string name, byte[] content)
    {
        await using var stream = new MemoryStream(content);
        return await WithAsync<KnowledgeService, UploadResult>(s => s.UploadAsync(actor, org.Slug, name, stream, default));
    }

    public Task<int> ProcessAsync(OrgSummary org) => WithAsync<KnowledgeProcessor, int>(p => p.RunPendingAsync(org.Id, default));

    public async Task<T> InTenantAsync<T>(OrgSummary org, Func<TenantDbContext, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(org);
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TenantOperation>()
            .RunAsSystemAsync(org.Id, "test setup", (w, _) => work(w.Db), CancellationToken.None);
    }

    public Task<KnowledgeDocument> DocumentAsync(OrgSummary org, Guid id) =>
        InTenantAsync(org, db => db.KnowledgeDocuments.AsNoTracking().SingleAsync(d => d.Id == id));

    public IReadOnlyList<string> TempFiles() => [.. Get<KnowledgeTempFiles>().Files().Order(StringComparer.Ordinal)];

    public string UploadFile(Guid documentId) => Get<KnowledgeTempFiles>().UploadPath(documentId);

    public IReadOnlyList<string> PartialFiles() => [.. TempFiles().Where(f => f.EndsWith(".partial", StringComparison.Ordinal))];
}

public sealed class KnowledgeIngestTests(KnowledgeIngestFixture data) : IClassFixture<KnowledgeIngestFixture>
{
    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Manual(int sections) => string.Join("\n\n", Enumerable.Range(1, sections).Select(i =>
        $"# Section {i}\n\nThe valve assembly number {i} must be inspected every {i * 7} days. Operators record the pressure reading " +
        $"in the logbook and report deviations above {i * 3} percent to the shift lead. Replacement parts come from the stores on level {i % 4}."));

    [Fact]
    public async Task Upload_Markdown_IsProcessedIntoEmbeddedChunks_AndNoFileRemains()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);

        var uploaded = await data.UploadAsync(org.Member, org.Org, "manual.md", Utf8(Manual(12)));
        Assert.False(uploaded.AlreadyThere);
        Assert.Equal(DocumentStatus.Queued, (await data.DocumentAsync(org.Org, uploaded.DocumentId)).Status);
        Assert.True(File.Exists(data.UploadFile(uploaded.DocumentId)));
        await data.ProcessAsync(org.Org);

        var document = await data.DocumentAsync(org.Org, uploaded.DocumentId);
        Assert.True(document.Status == DocumentStatus.Ready, document.Error);
        Assert.Equal(DocumentKind.Markdown, document.Kind);
        var chunks = await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.AsNoTracking().Where(c => c.DocumentId == document.Id).OrderBy(c => c.Ordinal).ToListAsync());
        Assert.Equal(document.ChunkCount, chunks.Count);
        Assert.True(chunks.Count >= 2);
        Assert.All(chunks, c => Assert.NotNull(c.Embedding));
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Ordinal));
        Assert.Contains(chunks, c => c.HeadingPath.Contains("Section 3", StringComparison.Ordinal));
        Assert.False(File.Exists(data.UploadFile(uploaded.DocumentId)));
        Assert.Empty(data.PartialFiles());
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Contains(audit, e => e.Action == KnowledgeAuditActions.Uploaded && e.Target == "manual.md");
        Assert.Contains(audit, e => e.Action == KnowledgeAuditActions.Processed && e.Target == "manual.md");
    }

    [Theory]
    [InlineData("broken.pdf", "%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref")]
    [InlineData("photo.txt", "\u0089PNG\r\n\u001a\n\0\0\0\rIHDR binary")]
    [InlineData("blank.txt", "   \n\n\t  \n")]
    public async Task Upload_FileThatCannotBeRead_FailsWithItsReason_LeavesNoChunksAndNoFile(string name, string content)
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var bytes = content.Select(c => (byte)c).ToArray();

        var uploaded = await data.UploadAsync(org.Member, org.Org, name, bytes);
        await data.ProcessAsync(org.Org);

        var document = await data.DocumentAsync(org.Org, uploaded.DocumentId);
        Assert.Equal(DocumentStatus.Failed, document.Status);
        Assert.False(string.IsNullOrWhiteSpace(document.Error));
        Assert.DoesNotContain("   at ", document.Error, StringComparison.Ordinal);
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.CountAsync(c => c.DocumentId == document.Id)));
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeJobs.CountAsync()));
        Assert.False(File.Exists(data.UploadFile(uploaded.DocumentId)));
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == KnowledgeAuditActions.Failed && e.Target == name);
    }

    [Fact]
    public async Task Upload_LargerThanTheLimit_IsRefusedAndNothingIsKept()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var before = data.TempFiles();

        var refused = await Assert.ThrowsAsync<KnowledgeRuleException>(() =>
            data.UploadAsync(org.Member, org.Org, "big.txt", new byte[KnowledgeIngestFixture.MaxFileBytes + 1]));

        Assert.Equal("big.txt is larger than the limit of 256 KB per file.", refused.Message);
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.CountAsync()));
        Assert.Equal(before, data.TempFiles());
    }

    [Fact]
    public async Task Upload_EmptyFile_IsRefused()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var before = data.TempFiles();

        var refused = await Assert.ThrowsAsync<KnowledgeRuleException>(() => data.UploadAsync(org.Member, org.Org, "empty.txt", []));

        Assert.Equal("empty.txt is empty.", refused.Message);
        Assert.Equal(before, data.TempFiles());
    }

    [Fact]
    public async Task Upload_PastTheOrganizationsQuota_IsRefusedNamingWhatIsUsed()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var chunk = KnowledgeIngestFixture.MaxFileBytes - 1024;
        await data.UploadAsync(org.Member, org.Org, "a.txt", Utf8(new string('a', (int)chunk - 10) + " one"));
        await data.UploadAsync(org.Member, org.Org, "b.txt", Utf8(new string('b', (int)chunk - 10) + " two"));
        var before = data.TempFiles();

        var refused = await Assert.ThrowsAsync<KnowledgeRuleException>(() =>
            data.UploadAsync(org.Member, org.Org, "c.txt", Utf8(new string('c', (int)chunk - 10) + " three")));

        Assert.StartsWith("c.txt does not fit: the organization's documents take 510 KB of its 600 KB.", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.CountAsync()));
        Assert.Equal(before, data.TempFiles());
    }

    [Fact]
    public async Task Upload_SameContentTwice_IsStoredOnce()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var content = Utf8(Manual(2) + "\n" + Guid.NewGuid());
        var first = await data.UploadAsync(org.Member, org.Org, "manual.md", content);
        var before = data.TempFiles();

        var second = await data.UploadAsync(org.Owner, org.Org, "copy of manual.md", content);

        Assert.True(second.AlreadyThere);
        Assert.Equal(first.DocumentId, second.DocumentId);
        Assert.Equal("copy of manual.md has the same content as manual.md, which is already here.", second.Message);
        Assert.Equal(1, await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.CountAsync()));
        Assert.Equal(before, data.TempFiles());
    }

    [Fact]
    public async Task Upload_NameWithPathAndControlCharacters_IsStoredSanitized()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);

        var uploaded = await data.UploadAsync(org.Member, org.Org, "../../etc/\u202Epasswd\u0007.txt", Utf8("Some plain text for the record."));

        var document = await data.DocumentAsync(org.Org, uploaded.DocumentId);
        Assert.DoesNotContain('/', document.Name);
        Assert.DoesNotContain('\u202E', document.Name);
        Assert.DoesNotContain('\u0007', document.Name);
    }

    [Fact]
    public async Task Upload_AsViewer_IsDeniedBeforeAnythingIsWritten()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        var before = data.TempFiles();

        var denied = await Assert.ThrowsAnyAsync<AgentSpace.Hosting.UserFacingException>(() => data.UploadAsync(org.Member, org.Org, "notes.txt", Utf8("Viewer's notes.")));

        Assert.Equal(403, denied.StatusCode);
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.CountAsync()));
        Assert.Equal(before, data.TempFiles());
    }

    [Fact]
    public async Task Delete_ByAnotherMember_IsRefused_ByTheUploader_RemovesDocumentChunksAndAttachments()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var other = await data.AddMemberAsync(org.Org, OrgRole.Member);
        var uploaded = await data.UploadAsync(org.Member, org.Org, "manual.md", Utf8(Manual(4)));
        await data.ProcessAsync(org.Org);
        var agentId = Guid.CreateVersion7();
        await data.InTenantAsync(org.Org, async db =>
        {
            db.Agents.Add(new AgentSpace.Agents.Agent { Id = agentId, Name = "Helper", Colour = "#336699", CreatedBy = org.Owner.UserId, CreatedAt = data.Clock.GetUtcNow(), UpdatedAt = data.Clock.GetUtcNow() });
            db.AgentDocuments.Add(new AgentDocument { AgentId = agentId, DocumentId = uploaded.DocumentId, AttachedBy = org.Owner.UserId, AttachedAt = data.Clock.GetUtcNow() });
            return await db.SaveChangesAsync();
        });

        var refused = await Assert.ThrowsAsync<KnowledgeRuleException>(() =>
            data.WithAsync<KnowledgeService>(s => s.DeleteAsync(other, org.Org.Slug, uploaded.DocumentId, default)));
        Assert.Equal(403, refused.StatusCode);
        await data.WithAsync<KnowledgeService>(s => s.DeleteAsync(org.Member, org.Org.Slug, uploaded.DocumentId, default));

        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.CountAsync()));
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.CountAsync()));
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.AgentDocuments.CountAsync()));
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == KnowledgeAuditActions.Deleted && e.Target == "manual.md");
    }

    [Fact]
    public async Task Restart_SweepsLeftoverFiles_KeepsAndResumesWaitingUploads_WithoutDuplicates()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var waiting = await data.UploadAsync(org.Member, org.Org, "waiting.md", Utf8(Manual(6)));
        // A job this node held when it died: leased, half-way (status Extracting), its file still here.
        var claimed = await data.WithAsync<KnowledgeProcessor, ClaimedJob?>(p => p.ClaimAsync(org.Org.Id, default));
        Assert.NotNull(claimed);
        await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.Where(d => d.Id == waiting.DocumentId)
            .ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, DocumentStatus.Extracting)));
        // Leftovers of uploads that never committed, and a stray file.
        var temp = data.Get<KnowledgeTempFiles>();
        string[] leftovers = [temp.PartialPath(Guid.NewGuid()), temp.UploadPath(Guid.NewGuid()), Path.Combine(temp.Directory, "stray.tmp")];
        foreach (var leftover in leftovers)
        {
            await File.WriteAllTextAsync(leftover, "left behind by a process that died");
        }

        await using (var scope = data.Services.CreateAsyncScope())
        {
            await KnowledgeIngestWorker.StartAsync(scope.ServiceProvider.GetRequiredService<KnowledgeProcessor>(), temp,
                scope.ServiceProvider.GetRequiredService<IDbContextFactory<PlatformDbContext>>(), data.Get<KnowledgeQueue>(),
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, default);
        }

        Assert.All(leftovers, leftover => Assert.False(File.Exists(leftover)));
        Assert.True(File.Exists(temp.UploadPath(waiting.DocumentId)));
        await data.ProcessAsync(org.Org);
        var document = await data.DocumentAsync(org.Org, waiting.DocumentId);
        Assert.True(document.Status == DocumentStatus.Ready, document.Error);
        var ordinals = await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.Where(c => c.DocumentId == waiting.DocumentId).Select(c => c.Ordinal).ToListAsync());
        Assert.Equal(document.ChunkCount, ordinals.Count);
        Assert.Equal(ordinals.Count, ordinals.Distinct().Count());
        Assert.False(File.Exists(temp.UploadPath(waiting.DocumentId)));
    }

    [Fact]
    public async Task Restart_AfterChunksWereWrittenAndHalfEmbedded_EmbedsTheRestOnce()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var uploaded = await data.UploadAsync(org.Member, org.Org, "long.md", Utf8(Manual(20)));
        await data.ProcessAsync(org.Org);
        var total = (await data.DocumentAsync(org.Org, uploaded.DocumentId)).ChunkCount;
        // As if the process died while embedding: half the vectors gone, the document back in Embedding, its job leased by this node.
        await data.InTenantAsync(org.Org, async db =>
        {
            var half = await db.KnowledgeChunks.Where(c => c.DocumentId == uploaded.DocumentId).OrderBy(c => c.Ordinal).Take(total / 2).Select(c => c.Id).ToListAsync();
            await db.KnowledgeChunks.Where(c => half.Contains(c.Id))
                .ExecuteUpdateAsync(u => u.SetProperty(c => c.Embedding, (Pgvector.HalfVector?)null).SetProperty(c => c.Embedder, (string?)null).SetProperty(c => c.Dimensions, (int?)null));
            await db.KnowledgeDocuments.Where(d => d.Id == uploaded.DocumentId).ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, DocumentStatus.Embedding));
            db.KnowledgeJobs.Add(new KnowledgeJob
            {
                Id = Guid.CreateVersion7(), DocumentId = uploaded.DocumentId, Kind = KnowledgeJobKind.Ingest, Attempts = 1,
                LeaseUntil = data.Clock.GetUtcNow().AddMinutes(2), LeaseOwner = data.Get<KnowledgeTempFiles>().Node,
                UploadNode = data.Get<KnowledgeTempFiles>().Node, CreatedAt = data.Clock.GetUtcNow(),
            });
            return await db.SaveChangesAsync();
        });

        await data.WithAsync<KnowledgeProcessor, IReadOnlyList<Guid>>(p => p.RecoverAsync(org.Org.Id, default));
        await data.ProcessAsync(org.Org);

        var document = await data.DocumentAsync(org.Org, uploaded.DocumentId);
        Assert.True(document.Status == DocumentStatus.Ready, document.Error);
        var chunks = await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.AsNoTracking().Where(c => c.DocumentId == uploaded.DocumentId).ToListAsync());
        Assert.Equal(total, chunks.Count);
        Assert.All(chunks, c => Assert.NotNull(c.Embedding));
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeJobs.CountAsync()));
    }
}
