using Npgsql;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Data;

public static class DataServiceCollectionExtensions
{
    public static IServiceCollection AddData(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Default");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException("ConnectionStrings:Default is not set. Run scripts/postgres.sh and use the connection string it prints.");
        }
        services.Configure<DatabaseOptions>(configuration.GetSection(DatabaseOptions.Section));
        // Npgsql resets pooled connections on close (DISCARD ALL), so no role or search_path survives a lease.
        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        services.AddDbContextFactory<PlatformDbContext>((sp, o) =>
            o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), n => n.MigrationsHistoryTable("__EFMigrationsHistory", PlatformDbContext.Schema)));
        // One options instance for every tenant: no per-tenant model or service provider.
        services.AddDbContextFactory<TenantDbContext>((sp, o) =>
            o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()).AddInterceptors(new TenantScopeGuard()));
        services.AddSingleton<TenantUnitOfWork>();
        services.AddSingleton<SchemaMigrator>();
        services.AddSingleton(TimeProvider.System);
        services.AddDataAdminCommands();
        return services;
    }

    /// <summary>
    /// Development brings the database up to date by itself, so <c>dotnet run --project App</c> right after
    /// scripts/postgres.sh just works. Elsewhere migrations are an explicit step (<c>App migrate</c>).
    /// </summary>
    public static async Task MigrateOnStartupAsync(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.Configuration.GetValue("Database:MigrateOnStartup", app.Environment.IsDevelopment()))
        {
            await app.Services.GetRequiredService<SchemaMigrator>().MigrateAllAsync(progress: null, CancellationToken.None);
        }
    }
}
