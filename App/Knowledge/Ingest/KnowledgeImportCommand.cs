using System.Globalization;
using AgentSpace.Admin;
using AgentSpace.Data;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Knowledge;

/// <summary><c>App knowledge import &lt;org&gt; &lt;folder&gt;</c>: bulk upload for operators, processed in this process.</summary>
internal static class KnowledgeImportCommand
{
    public static IServiceCollection AddKnowledgeImportCommand(this IServiceCollection services) =>
        services.AddAdminCommand(new AdminCommand("knowledge import", "<org-slug> <folder>",
            "Upload every file of a folder (and its subfolders) into an organization's knowledge base.",
            "Each file goes through the same checks and processing as an upload on the Knowledge page (size\n" +
            "limit, quota, type by content), recorded in the audit log as the system with the reason \"knowledge\n" +
            "import\". Files whose content is already there are skipped. The documents are processed here, one\n" +
            "after another, with progress; documents this node left half-done (a crash, a killed import) are\n" +
            "resumed first. Exit code 0 when every file is ready or skipped, 1 when any was refused or failed.",
            ImportAsync));

    private static async Task<int> ImportAsync(AdminInvocation run)
    {
        var positional = run.Args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (positional.Count != 2)
        {
            return await run.UsageErrorAsync("knowledge import needs <org-slug> <folder>.");
        }
        var (slug, folder) = (positional[0], positional[1]);
        if (!Directory.Exists(folder))
        {
            return await run.FailAsync($"no folder '{folder}'.");
        }
        if (await OrganizationIdAsync(run, slug) is not { } organizationId)
        {
            return await run.FailAsync($"no organization '{slug}'.");
        }
        var processor = run.Get<KnowledgeProcessor>();
        var service = run.Get<KnowledgeService>();
        await processor.RecoverAsync(organizationId, run.Cancellation);
        var resumed = await processor.RunPendingAsync(organizationId, run.Cancellation);
        if (resumed > 0)
        {
            await run.Output.WriteLineAsync($"resumed {resumed} document(s) left half-done");
        }
        var paths = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        int added = 0, skipped = 0, refused = 0, failed = 0, index = 0;
        foreach (var path in paths)
        {
            index++;
            var prefix = $"[{index.ToString(CultureInfo.InvariantCulture)}/{paths.Count.ToString(CultureInfo.InvariantCulture)}] {Path.GetRelativePath(folder, path)}: ";
            UploadResult result;
            try
            {
                await using var file = File.OpenRead(path);
                result = await service.UploadAsSystemAsync(organizationId, Path.GetFileName(path), file, run.Cancellation);
            }
            catch (Hosting.UserFacingException ex)
            {
                refused++;
                await run.Output.WriteLineAsync(prefix + "refused: " + ex.Message);
                continue;
            }
            if (result.AlreadyThere)
            {
                skipped++;
                await run.Output.WriteLineAsync(prefix + "skipped: " + result.Message);
                continue;
            }
            await processor.RunPendingAsync(organizationId, run.Cancellation);
            var outcome = await service.StatusAsSystemAsync(organizationId, result.DocumentId, run.Cancellation);
            if (outcome is { Status: DocumentStatus.Ready })
            {
                added++;
                await run.Output.WriteLineAsync(prefix + $"ready ({outcome.ChunkCount.ToString(CultureInfo.InvariantCulture)} chunks)");
            }
            else
            {
                failed++;
                await run.Output.WriteLineAsync(prefix + "failed: " + (outcome?.Error ?? "it is no longer there."));
            }
        }
        await run.Output.WriteLineAsync($"{added} added, {skipped} already there, {refused} refused, {failed} failed");
        return refused + failed == 0 ? 0 : 1;
    }

    /// <summary>The organization with this address, for the knowledge commands; null when there is none.</summary>
    internal static async Task<Guid?> OrganizationIdAsync(AdminInvocation run, string slug)
    {
        await using var db = await run.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(run.Cancellation);
        return await db.Organizations.AsNoTracking().Where(o => o.Slug == slug).Select(o => (Guid?)o.Id).FirstOrDefaultAsync(run.Cancellation);
    }
}
