using System.Text;
using AgentSpace.Data;
using AgentSpace.Knowledge;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Hosting;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Knowledge.Ingest;

/// <summary>The import command as an operator runs it (App.dll in its own process), killed with SIGKILL half-way.</summary>
public sealed class KnowledgeImportKillFixture : AppServices
{
    public const string Node = "import-test-node";

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Knowledge:BackgroundProcessing"] = "false",
        ["Knowledge:NodeName"] = Node,
    };

    public async Task<T> InTenantAsync<T>(OrgSummary org, Func<TenantDbContext, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(org);
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TenantOperation>().RunAsSystemAsync(org.Id, "test setup", (w, _) => work(w.Db), CancellationToken.None);
    }
}

public sealed class KnowledgeImportKillTests(KnowledgeImportKillFixture data) : IClassFixture<KnowledgeImportKillFixture>, IDisposable
{
    private const int Files = 40;
    private readonly string _folder = Directory.CreateTempSubdirectory("agentspace-import-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private Dictionary<string, string> Environment() => new()
    {
        ["ConnectionStrings__Default"] = data.Database.AppConnectionString,
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["Vault__MasterKey"] = data.Configuration["Vault:MasterKey"]!,
        ["Email__PickupDirectory"] = data.MailFolder,
        ["Knowledge__TempDirectory"] = data.KnowledgeFolder,
        ["Knowledge__NodeName"] = KnowledgeImportKillFixture.Node,
    };

    [Fact]
    public async Task Import_KilledHalfway_RunAgain_EveryFileReadyOnce_NoDuplicateChunks_NoFileLeft()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        for (var i = 0; i < Files; i++)
        {
            var text = new StringBuilder($"# Procedure {i}\n\n");
            for (var s = 0; s < 120; s++)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"Step {s} of procedure {i} checks valve {s * 7 + i} and records the pressure in the log. ");
            }
            await File.WriteAllTextAsync(Path.Combine(_folder, $"procedure-{i:00}.md"), text.ToString());
        }

        await using (var first = AppDll.Start(Environment(), ["knowledge", "import", org.Org.Slug, _folder]))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!first.StandardOutput.Contains("[8/", StringComparison.Ordinal) && !first.HasExited && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
            Assert.False(first.HasExited, "the import ended before it could be killed:\n" + first.StandardOutput + first.StandardError);
            first.KillNow();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        var afterKill = await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.AsNoTracking().ToListAsync());
        Assert.InRange(afterKill.Count, 7, Files - 1);

        await using (var second = AppDll.Start(Environment(), ["knowledge", "import", org.Org.Slug, _folder]))
        {
            Assert.True(await second.WaitForExitAsync(TimeSpan.FromMinutes(3)), second.StandardOutput);
            Assert.True(second.ExitCode == 0, second.StandardOutput + second.StandardError);
            Assert.Contains("already there", second.StandardOutput, StringComparison.Ordinal);
        }
        // What the killed process left in the folder goes at the next start of the node's worker.
        await using (var scope = data.Services.CreateAsyncScope())
        {
            await KnowledgeIngestWorker.StartAsync(scope.ServiceProvider.GetRequiredService<KnowledgeProcessor>(), data.Get<KnowledgeTempFiles>(),
                scope.ServiceProvider.GetRequiredService<IDbContextFactory<PlatformDbContext>>(), data.Get<KnowledgeQueue>(),
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, default);
        }

        var documents = await data.InTenantAsync(org.Org, db => db.KnowledgeDocuments.AsNoTracking().ToListAsync());
        Assert.Equal(Files, documents.Count);
        Assert.All(documents, d => Assert.True(d.Status == DocumentStatus.Ready, $"{d.Name}: {d.Status} {d.Error}"));
        Assert.Equal(Files, documents.Select(d => d.Name).Distinct().Count());
        var chunks = await data.InTenantAsync(org.Org, db => db.KnowledgeChunks.AsNoTracking().GroupBy(c => c.DocumentId).Select(g => new { g.Key, Count = g.Count(), Embedded = g.Count(c => c.Embedding != null) }).ToListAsync());
        Assert.All(documents, d => Assert.Equal(d.ChunkCount, chunks.Single(c => c.Key == d.Id).Count));
        Assert.All(chunks, c => Assert.Equal(c.Count, c.Embedded));
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.KnowledgeJobs.CountAsync()));
        Assert.Empty(data.Get<KnowledgeTempFiles>().Files());
    }
}
