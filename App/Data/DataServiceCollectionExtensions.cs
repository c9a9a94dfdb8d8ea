using AgentSpace.Hosting;
using Npgsql;
using Pgvector.Npgsql;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Data;

public static class DataServiceCollectionExtensions
{
    public static IServiceCollection AddData(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Default");
        services.AddStartupCheck<ConnectionStringCheck>();
        services.Configure<DatabaseOptions>(configuration.GetSection(DatabaseOptions.Section));
        // Tenant scope and migrations set only transaction-local state (SET LOCAL), so nothing survives a lease
        // even without Npgsql's reset on close (DISCARD ALL), as behind PgBouncer in transaction mode.
        services.AddSingleton(_ =>
        {
            var builder = new NpgsqlDataSourceBuilder(
                string.IsNullOrWhiteSpace(connectionString) ? throw new InvalidOperationException(ConnectionStringCheck.Missing) : connectionString);
            builder.UseVector();
            return builder.Build();
        });
        services.AddDbContextFactory<PlatformDbContext>((sp, o) =>
            o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), n => n.MigrationsHistoryTable("__EFMigrationsHistory", PlatformDbContext.Schema)));
        // One options instance for every tenant: no per-tenant model or service provider.
        services.AddDbContextFactory<TenantDbContext>((sp, o) => o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), n => n.UseVector()).UseTenantScope());
        services.AddSingleton<TenantUnitOfWork>();
        services.AddSingleton<SchemaMigrator>();
        services.AddSingleton(TimeProvider.System);
        services.AddDataAdminCommands();
        // Every IHttpClientFactory client refuses to send from inside a tenant unit of work.
        services.AddSingleton<SlowCallGuard>();
        services.AddTransient<SlowCallGuardHandler>();
        services.AddHttpClient();
        services.ConfigureHttpClientDefaults(http => http.AddHttpMessageHandler<SlowCallGuardHandler>());
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

    /// <summary>
    /// Adds the <see cref="TenantScopeGuard"/> to <see cref="TenantDbContext"/> options: it sends the tenant scope
    /// with a unit of work's first statement and fails closed without one. <see cref="TenantUnitOfWork"/>
    /// refuses options that lack it.
    /// </summary>
    public static DbContextOptionsBuilder UseTenantScope(this DbContextOptionsBuilder options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.AddInterceptors(TenantScopeGuard.Instance);
    }

    /// <inheritdoc cref="UseTenantScope(DbContextOptionsBuilder)"/>
    public static DbContextOptionsBuilder<TenantDbContext> UseTenantScope(this DbContextOptionsBuilder<TenantDbContext> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.AddInterceptors(TenantScopeGuard.Instance);
    }
}

/// <summary>Refuses to start without a connection string, in one line that says where to get one.</summary>
internal sealed class ConnectionStringCheck(IConfiguration configuration) : IStartupCheck
{
    public const string Missing = "ConnectionStrings:Default is not set. Run scripts/postgres.sh and use the connection string it prints.";

    public void Check()
    {
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString("Default")))
        {
            throw new StartupConfigurationException(Missing);
        }
    }
}
