using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using Microsoft.Extensions.Options;

// DDL cannot take bind parameters. Every identifier placed in SQL here is a TenantSchemaName (checked
// against ^t_[a-z0-9]{8,32}$), the owner role checked against a plain-name pattern, or a TenantTableRule's
// table (checked the same way).
#pragma warning disable EF1002

namespace AgentSpace.Data;

/// <summary>
/// Applies migrations and provisions tenants. Each operation is one transaction: DDL runs as the owner
/// role through <c>SET LOCAL ROLE</c>, so neither the role nor the search_path outlives it on a pooled
/// (or PgBouncer-shared) connection, and a failure leaves nothing half-made. The login role keeps no rights
/// of its own on tenant tables and creates no roles: tenant roles come from the
/// <c>provisioning.create_tenant_role</c> / <c>drop_tenant_role</c> functions (scripts/db-init.sql).
/// </summary>
/// <remarks>
/// Migrations therefore run inside one transaction of ours, not EF's per-migration ones. EF then takes no
/// migration lock of its own (and warns about that, which is silenced here): an advisory lock per schema,
/// taken first, keeps two migrators of one schema in line. A migration that needs to run outside a
/// transaction (<c>suppressTransaction: true</c>, e.g. CREATE INDEX CONCURRENTLY) is refused by EF here.
/// </remarks>
public sealed partial class SchemaMigrator(
    IDbContextFactory<PlatformDbContext> platformFactory,
    NpgsqlDataSource dataSource,
    IOptions<DatabaseOptions> options,
    IEnumerable<TenantTableRule> tableRules)
{
    private const int LockClass = 0x4D494752; // "MIGR"

    // Migration contexts get their own options (one set for all tenants), without the tenant scope guard,
    // and with EF's warning about migrating inside a user transaction silenced: that is the design here.
    private readonly DbContextOptions<PlatformDbContext> _platformMigrationOptions = new DbContextOptionsBuilder<PlatformDbContext>()
        .UseNpgsql(dataSource, n => n.MigrationsHistoryTable("__EFMigrationsHistory", PlatformDbContext.Schema))
        .ConfigureWarnings(w => w.Ignore(RelationalEventId.MigrationsUserTransactionWarning))
        .Options;

    private readonly DbContextOptions<TenantDbContext> _tenantMigrationOptions = new DbContextOptionsBuilder<TenantDbContext>()
        .UseNpgsql(dataSource, n => n.UseVector())
        .ConfigureWarnings(w => w.Ignore(RelationalEventId.MigrationsUserTransactionWarning))
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
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await db.Database.ExecuteSqlRawAsync(
            $"""
            select pg_advisory_xact_lock({LockClass}, hashtext('platform'));
            SET LOCAL ROLE "{OwnerRole}";
            CREATE SCHEMA IF NOT EXISTS platform;
            """, ct);
        await CreateHistoryTableAsync(db, ct);
        await db.Database.MigrateAsync(ct);
        // The login role is NOINHERIT: platform rights are granted to it directly. Audit rows are append-only.
        await db.Database.ExecuteSqlRawAsync(
            """
            GRANT USAGE ON SCHEMA platform TO SESSION_USER;
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA platform TO SESSION_USER;
            REVOKE UPDATE, DELETE, TRUNCATE ON platform.audit_events FROM SESSION_USER;
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON platform."__EFMigrationsHistory" FROM SESSION_USER;
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA platform TO SESSION_USER;
            GRANT USAGE ON SCHEMA quartz TO SESSION_USER;
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA quartz TO SESSION_USER;
            """, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Brings one tenant schema up to date and (re)applies its grants. Returns the migrations applied.</summary>
    public async Task<IReadOnlyList<string>> MigrateTenantAsync(TenantSchemaName tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var db = new TenantDbContext(_tenantMigrationOptions);
        await db.Database.OpenConnectionAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await LockAsync(db, tenant, ct);
        var applied = await MigrateInTransactionAsync(db, tenant, ct);
        await tx.CommitAsync(ct);
        return applied;
    }

    /// <summary>
    /// Creates the tenant's role (through the provisioning function) and schema, migrates it and grants the role
    /// its tables, in one transaction: on failure nothing of it remains.
    /// </summary>
    public async Task ProvisionTenantAsync(TenantSchemaName tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var db = new TenantDbContext(_tenantMigrationOptions);
        await db.Database.OpenConnectionAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await LockAsync(db, tenant, ct);
        var t = tenant.Quoted;
        // EXECUTE on the provisioning function is the login role's alone: call it before switching to the owner role.
        await db.Database.ExecuteSqlRawAsync(
            $"""
            select provisioning.create_tenant_role(@tenant);
            SET LOCAL ROLE "{OwnerRole}";
            CREATE SCHEMA {t};
            REVOKE ALL ON SCHEMA {t} FROM PUBLIC;
            """, [new NpgsqlParameter("tenant", tenant.Value)], ct);
        await MigrateInTransactionAsync(db, tenant, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Drops the tenant's schema (all its data) and its role. Safe to call on a half-provisioned tenant.</summary>
    public async Task DropTenantAsync(TenantSchemaName tenant, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The schema goes first, as the owner role (the tenant role still holds grants on its tables until
        // then); the role goes back to the login role to call the provisioning function.
        await using (var cmd = new NpgsqlCommand(
            $"""
            select pg_advisory_xact_lock({LockClass}, hashtext(@tenant));
            SET LOCAL ROLE "{OwnerRole}";
            DROP SCHEMA IF EXISTS {tenant.Quoted} CASCADE;
            SET LOCAL ROLE NONE;
            select provisioning.drop_tenant_role(@tenant);
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue("tenant", tenant.Value);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// EF finds out whether the history table exists by letting a query on it fail; inside our transaction that
    /// failure would abort everything after it. With the table made first (EF's own script), no query fails.
    /// </summary>
    private static Task CreateHistoryTableAsync(DbContext db, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), ct);

    /// <summary>Serializes everything that migrates or provisions one schema, for the length of the transaction.</summary>
    private static Task LockAsync(TenantDbContext db, TenantSchemaName tenant, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync($"select pg_advisory_xact_lock({LockClass}, hashtext(@tenant))", [new NpgsqlParameter("tenant", tenant.Value)], ct);

    private async Task<IReadOnlyList<string>> MigrateInTransactionAsync(TenantDbContext db, TenantSchemaName tenant, CancellationToken ct)
    {
        var t = tenant.Quoted;
        await db.Database.ExecuteSqlRawAsync($"SET LOCAL ROLE \"{OwnerRole}\"; SET LOCAL search_path = {t}, extensions", ct);
        await CreateHistoryTableAsync(db, ct);
        var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
        if (pending.Count > 0)
        {
            await db.Database.MigrateAsync(ct);
        }
        await db.Database.ExecuteSqlRawAsync(
            $"""
            REVOKE ALL ON SCHEMA {t} FROM PUBLIC;
            GRANT USAGE ON SCHEMA {t} TO {t};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {t} TO {t};
            REVOKE ALL ON {t}."__EFMigrationsHistory" FROM {t};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {t} TO {t};
            {string.Concat(tableRules.Select(r => r.RevokeSql(tenant)))}
            """, ct);
        return pending;
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
