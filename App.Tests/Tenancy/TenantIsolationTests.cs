using AgentSpace.Data;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AgentSpace.Tests.Tenancy;

/// <summary>The database itself refuses cross-tenant access, whatever the application code does.</summary>
public sealed class TenantIsolationTests(AppServices app) : IClassFixture<AppServices>
{
    private async Task<(OrgContext A, OrgContext B)> TwoTenantsAsync()
    {
        var owner = await app.CreateUserAsync($"owner-{Guid.NewGuid():N}@example.com");
        var a = await app.WithAsync<OrganizationService, OrgSummary>(s => s.CreateAsync(owner, "iso-a-" + Guid.NewGuid().ToString("N")[..8], "A", default));
        var b = await app.WithAsync<OrganizationService, OrgSummary>(s => s.CreateAsync(owner, "iso-b-" + Guid.NewGuid().ToString("N")[..8], "B", default));
        var ca = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, a.Slug, default));
        var cb = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, b.Slug, default));
        return (ca, cb);
    }

    [Fact]
    public async Task EveryTenantTable_AccessedAsAnotherTenantsRole_IsPermissionDenied()
    {
        var (a, b) = await TwoTenantsAsync();
        var tables = await TablesAsync();
        Assert.Contains((a.Schema.Value, "audit_events"), tables);
        var schemas = tables.Select(t => t.Schema).Distinct().ToList();
        Assert.True(schemas.Count >= 2);

        var probes = 0;
        foreach (var victim in schemas)
        {
            var attacker = schemas.First(s => s != victim);
            foreach (var table in tables.Where(t => t.Schema == victim).Select(t => t.Table))
            {
                var target = $"\"{victim}\".\"{table}\"";
                foreach (var sql in new[]
                {
                    $"select * from {target} limit 1",
                    $"insert into {target} default values",
                    $"update {target} set ctid = ctid",
                    $"delete from {target}",
                })
                {
                    var ex = await Assert.ThrowsAsync<PostgresException>(() => RunAsRoleAsync(attacker, sql));
                    Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
                    probes++;
                }
            }
        }
        Assert.True(probes >= 8, $"only {probes} probes ran");
    }

    [Fact]
    public async Task TenantRole_CannotReachPlatformOrPublicTables()
    {
        var (a, _) = await TwoTenantsAsync();
        var platformTables = await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_tables where schemaname = 'platform'");
        Assert.True(platformTables > 5);
        foreach (var sql in new[]
        {
            "select * from platform.users",
            "select * from platform.memberships",
            "select * from platform.sign_in_tokens",
            "insert into platform.audit_events default values",
            "create table public.smuggled (x int)",
        })
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => RunAsRoleAsync(a.Schema.Value, sql));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
        }
    }

    [Fact]
    public async Task LoginRole_WithoutRoleSwitch_CannotReadAnyTenantTable()
    {
        var (a, _) = await TwoTenantsAsync();
        await using var conn = new NpgsqlConnection(app.Database.AppConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"select count(*) from \"{a.Schema.Value}\".audit_events", conn);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteScalarAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
    }

    [Fact]
    public async Task CatalogGate_TenantTablesGrantedOnlyToOwnRoleAndOwner_AuditIsAppendOnly()
    {
        await TwoTenantsAsync();
        // Every privilege on any table or sequence in a tenant schema, by grantee.
        var grants = new List<(string Schema, string Table, string Grantee, string Privilege)>();
        await using (var conn = new NpgsqlConnection(app.Database.AdminConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                """
                select n.nspname, c.relname, coalesce(r.rolname, 'PUBLIC'), a.privilege_type
                from pg_class c
                join pg_namespace n on n.oid = c.relnamespace
                cross join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                left join pg_roles r on r.oid = a.grantee
                where n.nspname ~ '^t_[a-z0-9]{8,32}$' and c.relkind in ('r', 'p', 'v', 'm', 'S')
                """, conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                grants.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }
        }
        Assert.NotEmpty(grants);
        foreach (var g in grants)
        {
            Assert.True(g.Grantee == g.Schema || g.Grantee == "app_owner",
                $"{g.Schema}.{g.Table} grants {g.Privilege} to {g.Grantee}");
        }
        foreach (var schema in grants.Select(g => g.Schema).Distinct())
        {
            var auditPrivileges = grants.Where(g => g.Schema == schema && g.Table == "audit_events" && g.Grantee == schema).Select(g => g.Privilege).ToHashSet();
            Assert.Equal(new HashSet<string> { "SELECT", "INSERT" }, auditPrivileges);
        }
        // Schemas: USAGE only for the tenant's own role (and the owner), nothing for PUBLIC.
        var schemaAcl = await app.Database.ScalarAsAdminAsync<long>(
            """
            select count(*) from pg_namespace n
            cross join lateral aclexplode(n.nspacl) a
            left join pg_roles r on r.oid = a.grantee
            where n.nspname ~ '^t_[a-z0-9]{8,32}$' and coalesce(r.rolname, 'PUBLIC') not in (n.nspname, 'app_owner')
            """);
        Assert.Equal(0, schemaAcl);
    }

    [Fact]
    public async Task TenantRole_CannotUpdateDeleteOrTruncateItsAuditLog()
    {
        var (a, _) = await TwoTenantsAsync();
        foreach (var sql in new[] { "update audit_events set action = 'x'", "delete from audit_events", "truncate audit_events" })
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => RunAsRoleAsync(a.Schema.Value, sql));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
        }
    }

    [Fact]
    public async Task TenantDbContext_UsedWithoutTenant_Throws()
    {
        await using var scope = app.Services.CreateAsyncScope();
        var factory = scope.ServiceProvider.GetRequiredService<IDbContextFactory<TenantDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        await Assert.ThrowsAsync<TenantNotSetException>(() => db.AuditEvents.CountAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // no DISCARD ALL between leases, as behind PgBouncer in transaction mode
    public async Task PooledConnection_AfterTenantUnitOfWork_CarriesNoRoleOrSearchPath(bool noResetOnClose)
    {
        var (a, _) = await TwoTenantsAsync();
        // A pool of exactly one connection, so the unscoped query below reuses the tenant's connection.
        var cs = new NpgsqlConnectionStringBuilder(app.Database.AppConnectionString) { MaxPoolSize = 1, MinPoolSize = 0, NoResetOnClose = noResetOnClose }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(cs);
        var options = new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(dataSource, n => n.UseVector()).UseTenantScope().Options;
        var uow = new TenantUnitOfWork(new SingleOptionsFactory(options));

        var inside = await uow.RunAsync(a.Schema, async (db, ct) =>
            await db.Database.SqlQueryRaw<string>("select current_user || '|' || current_setting('search_path') as \"Value\"").SingleAsync(ct), default);
        Assert.Equal($"{a.Schema.Value}|{a.Schema.Value}, extensions", inside);

        await using var conn = await dataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("select current_user || '|' || current_setting('search_path') || '|' || pg_backend_pid()", conn);
        var after = (string)(await cmd.ExecuteScalarAsync())!;
        var parts = after.Split('|');
        Assert.Equal("app_login", parts[0]);
        Assert.DoesNotContain(a.Schema.Value, parts[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnitOfWork_OptionsWithoutTheScopeGuard_IsRefused()
    {
        var (a, _) = await TwoTenantsAsync();
        await using var dataSource = NpgsqlDataSource.Create(app.Database.AppConnectionString);
        var uow = new TenantUnitOfWork(new SingleOptionsFactory(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(dataSource, n => n.UseVector()).Options));
        await Assert.ThrowsAsync<InvalidOperationException>(() => uow.RunAsync(a.Schema, (db, ct) => db.AuditEvents.CountAsync(ct), default));
    }

    [Fact]
    public async Task UnitsOfWork_ForDifferentTenants_ShareOneModelAndOptions()
    {
        var (a, b) = await TwoTenantsAsync();
        var uow = app.Get<TenantUnitOfWork>();
        var (modelA, optionsA) = await uow.RunAsync(a.Schema, (db, _) => Task.FromResult((db.Model, db.GetService<IDbContextOptions>())), default);
        var (modelB, optionsB) = await uow.RunAsync(b.Schema, (db, _) => Task.FromResult((db.Model, db.GetService<IDbContextOptions>())), default);
        // One model and one options instance (so one EF internal service provider) for every tenant.
        Assert.Same(modelA, modelB);
        Assert.Same(optionsA, optionsB);
    }

    [Fact]
    public async Task TenantMigrations_HistoryTableLandsInTenantSchema()
    {
        var (a, b) = await TwoTenantsAsync();
        var count = await app.Database.ScalarAsAdminAsync<long>(
            $"select count(*) from pg_tables where tablename = '__EFMigrationsHistory' and schemaname in ('{a.Schema.Value}', '{b.Schema.Value}')");
        Assert.Equal(2, count);
        var inPublic = await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_tables where schemaname = 'public'");
        Assert.Equal(0, inPublic);
    }

    private async Task<List<(string Schema, string Table)>> TablesAsync()
    {
        var result = new List<(string, string)>();
        await using var conn = new NpgsqlConnection(app.Database.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select schemaname, tablename from pg_tables where schemaname ~ '^t_[a-z0-9]{8,32}$' order by 1, 2", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result.Add((reader.GetString(0), reader.GetString(1)));
        }
        return result;
    }

    /// <summary>Runs one statement as the app's login role switched to <paramref name="role"/>, as a unit of work would.</summary>
    private async Task RunAsRoleAsync(string role, string sql)
    {
        await using var conn = new NpgsqlConnection(app.Database.AppConnectionString);
        await conn.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var set = new NpgsqlCommand("select set_config('role', @r, true), set_config('search_path', @r, true)", conn, tx))
        {
            set.Parameters.AddWithValue("r", role);
            await set.ExecuteNonQueryAsync();
        }
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync();
    }

    private sealed class SingleOptionsFactory(DbContextOptions<TenantDbContext> options) : IDbContextFactory<TenantDbContext>
    {
        public TenantDbContext CreateDbContext() => new(options);
    }
}
