using AgentSpace.Data;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentSpace.Tests.Data;

/// <summary>
/// Migration and provisioning switch to the owner role only for the length of one transaction, so no
/// role or search_path can outlive them on a pooled server connection (PgBouncer in transaction mode
/// hands that connection to the next client as it is).
/// </summary>
public sealed class SchemaMigratorTests(AppServices app) : IClassFixture<AppServices>
{
    [Fact]
    public async Task ProvisionMigrateAndFailedDrop_PoolOfOneWithoutReset_NextLeaseCarriesNoRoleOrSearchPath()
    {
        // One server connection, and no DISCARD ALL between leases: what a client behind PgBouncer in
        // transaction mode gets. Whatever a lease leaves on the session, the next lease sees.
        var cs = new NpgsqlConnectionStringBuilder(app.Database.AppConnectionString)
        {
            MaxPoolSize = 1, MinPoolSize = 0, NoResetOnClose = true,
        }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(cs);
        var migrator = new SchemaMigrator(new PlatformFactory(dataSource), dataSource, Options.Create(new DatabaseOptions()),
            [new TenantTableRule("audit_events", TenantTableAccess.AppendOnly)]);
        var tenant = TenantSchemaName.NewRandom();

        await migrator.ProvisionTenantAsync(tenant, default);
        Assert.Equal("app_login|\"$user\", public, extensions", await SessionStateAsync(dataSource));

        await migrator.MigrateTenantAsync(tenant, default);
        Assert.Equal("app_login|\"$user\", public, extensions", await SessionStateAsync(dataSource));

        await migrator.MigratePlatformAsync(default);
        Assert.Equal("app_login|\"$user\", public, extensions", await SessionStateAsync(dataSource));

        // A drop that fails half-way (the schema now belongs to someone the owner role cannot drop for)
        // must not leave the owner role behind on the connection.
        await app.Database.ExecuteAsAdminAsync($"ALTER SCHEMA \"{tenant.Value}\" OWNER TO postgres");
        await Assert.ThrowsAsync<PostgresException>(() => migrator.DropTenantAsync(tenant, default));
        Assert.Equal("app_login|\"$user\", public, extensions", await SessionStateAsync(dataSource));

        await app.Database.ExecuteAsAdminAsync($"ALTER SCHEMA \"{tenant.Value}\" OWNER TO app_owner");
        await migrator.DropTenantAsync(tenant, default);
        Assert.Equal("app_login|\"$user\", public, extensions", await SessionStateAsync(dataSource));
    }

    [Theory]
    [InlineData(TenantTableAccess.AppendOnly, "insert", "update")]
    [InlineData(TenantTableAccess.ReadOnly, null, "insert")]
    public async Task ProvisionTenant_FeatureTableRule_IsEnforcedForTheTenantRole(TenantTableAccess access, string? allowed, string refused)
    {
        // The rules come from the features (the audit log registers its table as append-only); the migrator
        // applies whatever is registered, to every tenant schema.
        await using var dataSource = NpgsqlDataSource.Create(app.Database.AppConnectionString);
        var migrator = new SchemaMigrator(new PlatformFactory(dataSource), dataSource, Options.Create(new DatabaseOptions()),
            [new TenantTableRule("audit_events", access)]);
        var tenant = TenantSchemaName.NewRandom();
        await migrator.ProvisionTenantAsync(tenant, default);
        try
        {
            var t = tenant.Quoted;
            var statements = new Dictionary<string, string>
            {
                ["insert"] = $"insert into {t}.audit_events (seq, occurred_at, action, outcome, details, prev_hash, hash) values (1, now(), 'probe', 'success', '{{}}', ''::bytea, ''::bytea)",
                ["update"] = $"update {t}.audit_events set action = 'changed'",
            };
            async Task RunAsTenantAsync(string sql)
            {
                await using var conn = await dataSource.OpenConnectionAsync();
                await using var tx = await conn.BeginTransactionAsync();
                await using var cmd = new NpgsqlCommand($"set local role {t}; {sql}", conn, tx);
                await cmd.ExecuteNonQueryAsync();
            }
            if (allowed is not null)
            {
                await RunAsTenantAsync(statements[allowed]);
            }
            var denied = await Assert.ThrowsAsync<PostgresException>(() => RunAsTenantAsync(statements[refused]));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
        }
        finally
        {
            await migrator.DropTenantAsync(tenant, default);
        }
    }

    [Fact]
    public async Task ProvisionMigrateDrop_OnASharedServerConnection_OtherClientsNeverSeeTheOwnerRole()
    {
        // Npgsql multiplexing over one server connection: statements outside a transaction from every
        // client share that connection, as they do behind PgBouncer in transaction mode. Session state
        // the migrator sets is seen by whoever runs next; transaction-local state is not.
        var cs = new NpgsqlConnectionStringBuilder(app.Database.AppConnectionString) { Multiplexing = true, MaxPoolSize = 1 }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(cs);
        var migrator = new SchemaMigrator(new PlatformFactory(dataSource), dataSource, Options.Create(new DatabaseOptions()),
            [new TenantTableRule("audit_events", TenantTableAccess.AppendOnly)]);

        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        var observer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                seen.AddOrUpdate(await SessionStateAsync(dataSource), 1, (_, n) => n + 1);
            }
        });
        for (var i = 0; i < 3; i++)
        {
            var tenant = TenantSchemaName.NewRandom();
            await migrator.ProvisionTenantAsync(tenant, default);
            await migrator.MigrateTenantAsync(tenant, default);
            await migrator.MigratePlatformAsync(default);
            await migrator.DropTenantAsync(tenant, default);
        }
        await stop.CancelAsync();
        await observer;

        Assert.Equal(["app_login|\"$user\", public, extensions"], seen.Keys);
    }

    [Fact]
    public async Task MigrateTenant_TwiceConcurrently_BothSucceedAndHistoryIsWrittenOnce()
    {
        var migrator = app.Get<SchemaMigrator>();
        var tenant = TenantSchemaName.NewRandom();
        await migrator.ProvisionTenantAsync(tenant, default);
        var expected = await app.Database.ScalarAsAdminAsync<long>($"select count(*) from \"{tenant.Value}\".\"__EFMigrationsHistory\"");
        Assert.True(expected > 0);

        await Task.WhenAll(migrator.MigrateTenantAsync(tenant, default), migrator.MigrateTenantAsync(tenant, default));
        Assert.Equal(expected, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from \"{tenant.Value}\".\"__EFMigrationsHistory\""));
    }

    [Fact]
    public async Task ProvisionTenant_NameAlreadyTaken_LeavesNothingBehind()
    {
        var migrator = app.Get<SchemaMigrator>();
        var tenant = TenantSchemaName.NewRandom();
        // Someone already made a schema of that name: provisioning fails as a whole, including its role.
        await app.Database.ExecuteAsAdminAsync($"CREATE SCHEMA \"{tenant.Value}\"");
        await Assert.ThrowsAsync<PostgresException>(() => migrator.ProvisionTenantAsync(tenant, default));
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_roles where rolname = '{tenant.Value}'"));
        await app.Database.ExecuteAsAdminAsync($"DROP SCHEMA \"{tenant.Value}\"");
    }

    private static async Task<string> SessionStateAsync(NpgsqlDataSource dataSource)
    {
        await using var conn = await dataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("select current_user || '|' || current_setting('search_path')", conn);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    private sealed class PlatformFactory(NpgsqlDataSource dataSource) : IDbContextFactory<PlatformDbContext>
    {
        public PlatformDbContext CreateDbContext() => new(new DbContextOptionsBuilder<PlatformDbContext>()
            .UseNpgsql(dataSource, n => n.MigrationsHistoryTable("__EFMigrationsHistory", PlatformDbContext.Schema)).Options);
    }
}
