using AgentSpace.Admin;

namespace AgentSpace.Data;

/// <summary><c>App migrate</c>.</summary>
internal static class DataAdminCommands
{
    public const string Migrate = "migrate";

    public static IServiceCollection AddDataAdminCommands(this IServiceCollection services) =>
        services.AddAdminCommand(new AdminCommand(Migrate, "", "Apply platform migrations, then bring every tenant up to date.",
            "Applies the platform migrations, then migrates every tenant schema, reporting each.", MigrateAsync));

    private static async Task<int> MigrateAsync(AdminInvocation run)
    {
        var output = run.Output;
        await output.WriteLineAsync("Migrating platform schema...");
        var report = await run.Get<SchemaMigrator>().MigrateAllAsync(new SyncProgress<TenantMigrationResult>(r =>
        {
            var status = r.Error is null ? $"ok ({r.Applied} applied)" : "FAILED: " + r.Error;
            output.WriteLine($"[{r.Index}/{r.Total}] {r.Slug}: {status} in {r.Elapsed.TotalMilliseconds:F0} ms");
        }), run.Cancellation);
        await output.WriteLineAsync($"Done: {report.Tenants.Count} tenant(s) in {report.Elapsed.TotalSeconds:F1} s.");
        return report.Ok ? 0 : await run.FailAsync($"{report.Tenants.Count(t => t.Error is not null)} tenant(s) failed to migrate.");
    }

    /// <summary>Reports on the caller's thread, so progress lines come out in order.</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
