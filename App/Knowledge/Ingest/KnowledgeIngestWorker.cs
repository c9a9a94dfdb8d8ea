using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Knowledge;

/// <summary>
/// Processes queued documents in the background, one at a time per node. At start it takes back the jobs this node
/// held before a crash or restart and sweeps the temp folder of everything no waiting upload needs; then it runs
/// what uploads signal, and scans every organization once a minute for work whose lease ran out.
/// </summary>
internal sealed class KnowledgeIngestWorker(
    KnowledgeQueue queue,
    IServiceScopeFactory scopes,
    KnowledgeTempFiles files,
    IDbContextFactory<PlatformDbContext> platform,
    IConfiguration configuration,
    ILogger<KnowledgeIngestWorker> logger) : BackgroundService
{
    public static readonly TimeSpan ScanEvery = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        // Off only where something else drives processing (tests that stop a job half-way on purpose).
        if (!configuration.GetValue("Knowledge:BackgroundProcessing", true))
        {
            return;
        }
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await StartAsync(scope.ServiceProvider.GetRequiredService<KnowledgeProcessor>(), files, platform, queue, logger, stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Knowledge start-up recovery failed; queued documents wait for the next scan");
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var next = await queue.NextAsync(ScanEvery, stoppingToken);
                await using var scope = scopes.CreateAsyncScope();
                var processor = scope.ServiceProvider.GetRequiredService<KnowledgeProcessor>();
                if (next is { } organizationId)
                {
                    await processor.RunPendingAsync(organizationId, stoppingToken);
                    continue;
                }
                foreach (var id in await OrganizationIdsAsync(platform, stoppingToken))
                {
                    if (await processor.HasWorkAsync(id, stoppingToken))
                    {
                        await processor.RunPendingAsync(id, stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // One organization's trouble (its schema being dropped, a database blip) must not stop the others'.
                logger.LogError(ex, "Knowledge processing loop failed; continuing");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }
    }

    /// <summary>Recovery at start: leases back, temp folder swept, every organization with waiting work signalled.</summary>
    internal static async Task StartAsync(KnowledgeProcessor processor, KnowledgeTempFiles files, IDbContextFactory<PlatformDbContext> platform,
        KnowledgeQueue queue, ILogger logger, CancellationToken ct)
    {
        var waiting = new HashSet<Guid>();
        foreach (var id in await OrganizationIdsAsync(platform, ct))
        {
            waiting.UnionWith(await processor.RecoverAsync(id, ct));
            if (await processor.HasWorkAsync(id, ct))
            {
                queue.Signal(id);
            }
        }
        var swept = files.Sweep(waiting);
        if (swept > 0)
        {
            logger.LogInformation("Swept {Count} leftover upload file(s) from {Directory}", swept, files.Directory);
        }
    }

    private static async Task<List<Guid>> OrganizationIdsAsync(IDbContextFactory<PlatformDbContext> platform, CancellationToken ct)
    {
        await using var db = await platform.CreateDbContextAsync(ct);
        return await db.Organizations.AsNoTracking().OrderBy(o => o.Id).Select(o => o.Id).ToListAsync(ct);
    }
}
