using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using Microsoft.Extensions.Options;

// DDL cannot take bind parameters. Every identifier placed in SQL here is a TenantSchemaName (checked
// against ^t_[a-z0-9]{8,32}$) or the owner role checked against a plain-name pattern.
#pragma warning disable EF1002

namespace AgentSpace.Data;

/// <summary>
/// Applies migrations. DDL runs as the owner role (<c>SET ROLE</c> on the session, reset on close);
/// the login role keeps no rights of its own on tenant tables.
/// </summary>
public sealed partial class SchemaMigrator(
    IDbContextFactory<PlatformDbContext> platformFactory,
    NpgsqlDataSource dataSource,
    IOptions<DatabaseOptions> options)
{
    // Migration contexts get their own options (one set for all tenants): EF probes for the history
    // table by letting a query fail, and that expected failure should not reach the app's error log.
    // Real failures still throw and are reported by the caller.
    private readonly DbContextOptions<PlatformDbContext> _platformMigrationOptions = new DbContextOptionsBuilder<PlatformDbContext>()
        .UseNpgsql(dataSource, n => n.MigrationsHistoryTable("__EFMigrationsHistory", PlatformDbContext.Schema))
        .ConfigureWarnings(w => w.Ignore(RelationalEventId.CommandError))
        .Options;

    private readonly DbContextOptions<TenantDbContext> _tenantMigrationOptions = new DbContextOptionsBuilder<TenantDbContext>()
        .UseNpgsql(dataSource)
        .ConfigureWarnings(w => w.Ignore(RelationalEventId.CommandError))
        .Options;

    private string OwnerRole
    {
        get
        {
            var role = options.Value.OwnerRole;
            return RoleName().IsMatch(role) ? role : throw new InvalidOperationException("Database:OwnerRole is not a plain role name.");
        }
    }

    public async Task MigratePlatformAsync(CancellationToken ct)
    {
        await using var db = new PlatformDbContext(_platformMigrationOptions);
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await db.Database.ExecuteSqlRawAsync($"SET ROLE \"{OwnerRole}\"", ct);
            await db.Database.ExecuteSqlRawAsync("CREATE SCHEMA IF NOT EXISTS platform", ct);
            await db.Database.MigrateAsync(ct);
            // The login role is NOINHERIT: platform rights are granted to it directly. Audit rows are append-only.
            await db.Database.ExecuteSqlRawAsync(
                """
                GRANT USAGE ON SCHEMA platform TO SESSION_USER;
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA platform TO SESSION_USER;
                REVOKE UPDATE, DELETE, TRUNCATE ON platform.audit_events FROM SESSION_USER;
                REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON platform."__EFMigrationsHistory" FROM SESSION_USER;
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA platform TO SESSION_USER;
                """, ct);
        }
        finally
        {
            await db.Database.ExecuteSqlRawAsync("RESET ROLE", CancellationToken.None);
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>Brings one tenant schema up to date and (re)applies its grants. Returns the migrations applied.</summary>
    public async Task<IReadOnlyList<string>> MigrateTenantAsync(TenantSchemaName tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var db = new TenantDbContext(_tenantMigrationOptions) { Scope = tenant };
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            await db.Database.ExecuteSqlRawAsync($"SET ROLE \"{OwnerRole}\"", ct);
            await db.Database.ExecuteSqlRawAsync($"SET search_path = {tenant.Quoted}, extensions", ct);
            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            if (pending.Count > 0)
            {
                await db.Database.MigrateAsync(ct);
            }
            var t = tenant.Quoted;
            await db.Database.ExecuteSqlRawAsync(
                $"""
                REVOKE ALL ON SCHEMA {t} FROM PUBLIC;
                GRANT USAGE ON SCHEMA {t} TO {t};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {t} TO {t};
                REVOKE ALL ON {t}."__EFMigrationsHistory" FROM {t};
                REVOKE UPDATE, DELETE, TRUNCATE ON {t}.audit_events FROM {t};
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {t} TO {t};
                """, ct);
            return pending;
        }
        finally
        {
            await db.Database.ExecuteSqlRawAsync("RESET ROLE; RESET search_path", CancellationToken.None);
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>Creates the tenant's role and schema, migrates it and grants the role its tables.</summary>
    public async Task ProvisionTenantAsync(TenantSchemaName tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using (var db = await platformFactory.CreateDbContextAsync(ct))
        {
            var t = tenant.Quoted;
            await db.Database.OpenConnectionAsync(ct);
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            // CREATE ROLE needs the login role's CREATEROLE attribute, so it runs before the role switch.
            await db.Database.ExecuteSqlRawAsync($"CREATE ROLE {t} NOLOGIN NOINHERIT", ct);
            await db.Database.ExecuteSqlRawAsync($"GRANT {t} TO SESSION_USER", ct);
            await db.Database.ExecuteSqlRawAsync($"SET LOCAL ROLE \"{OwnerRole}\"", ct);
            await db.Database.ExecuteSqlRawAsync($"CREATE SCHEMA {t}", ct);
            await db.Database.ExecuteSqlRawAsync($"REVOKE ALL ON SCHEMA {t} FROM PUBLIC", ct);
            await tx.CommitAsync(ct);
        }
        await MigrateTenantAsync(tenant, ct);
    }

    /// <summary>Drops the tenant's schema (all its data) and its role. Safe to call on a half-provisioned tenant.</summary>
    public async Task DropTenantAsync(TenantSchemaName tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            var t = tenant.Quoted;
            await db.Database.ExecuteSqlRawAsync($"SET ROLE \"{OwnerRole}\"; DROP SCHEMA IF EXISTS {t} CASCADE; RESET ROLE;", ct);
            await db.Database.ExecuteSqlRawAsync($"DROP ROLE IF EXISTS {t}", ct);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>Migrates the platform schema, then every tenant, reporting progress per tenant.</summary>
    public async Task<MigrationReport> MigrateAllAsync(IProgress<TenantMigrationResult>? progress, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        await MigratePlatformAsync(ct);
        List<(string Slug, string Schema)> tenants;
        await using (var db = await platformFactory.CreateDbContextAsync(ct))
        {
            tenants = (await db.Organizations.AsNoTracking().OrderBy(o => o.Slug).Select(o => new { o.Slug, o.SchemaName }).ToListAsync(ct))
                .Select(o => (o.Slug, o.SchemaName)).ToList();
        }
        var results = new List<TenantMigrationResult>(tenants.Count);
        var index = 0;
        foreach (var (slug, schema) in tenants)
        {
            index++;
            var sw = Stopwatch.StartNew();
            TenantMigrationResult result;
            try
            {
                var applied = await MigrateTenantAsync(TenantSchemaName.Parse(schema), ct);
                result = new TenantMigrationResult(index, tenants.Count, slug, applied.Count, sw.Elapsed, null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                result = new TenantMigrationResult(index, tenants.Count, slug, 0, sw.Elapsed, ex.Message);
            }
            results.Add(result);
            progress?.Report(result);
        }
        return new MigrationReport(results, total.Elapsed);
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex RoleName();
}

public sealed record TenantMigrationResult(int Index, int Total, string Slug, int Applied, TimeSpan Elapsed, string? Error);

public sealed record MigrationReport(IReadOnlyList<TenantMigrationResult> Tenants, TimeSpan Elapsed)
{
    public bool Ok => Tenants.All(t => t.Error is null);
}
