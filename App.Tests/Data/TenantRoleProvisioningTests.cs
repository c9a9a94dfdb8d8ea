using AgentSpace.Data;
using AgentSpace.Tests.Infrastructure;
using Npgsql;

namespace AgentSpace.Tests.Data;

/// <summary>
/// The login role cannot make roles, so one SQL injection cannot turn into pg_read_server_files or
/// pg_execute_server_program. Tenant roles come only from two functions that accept nothing but a tenant name.
/// </summary>
public sealed class TenantRoleProvisioningTests(AppServices app) : IClassFixture<AppServices>
{
    [Fact]
    public async Task LoginRole_CreateRole_IsPermissionDenied()
    {
        var name = TenantSchemaName.NewRandom().Value;
        try
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => AsLoginAsync($"CREATE ROLE \"{name}\" NOLOGIN"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
            Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_roles where rolname = '{name}'"));
        }
        finally
        {
            // Roles are cluster-wide: on a cluster where the statement went through, remove the role at once.
            await app.Database.ExecuteAsAdminAsync($"DROP ROLE IF EXISTS \"{name}\"");
        }
    }

    [Theory]
    [InlineData("pg_read_server_files")]
    [InlineData("pg_write_server_files")]
    [InlineData("pg_execute_server_program")]
    [InlineData("app_provisioner")]
    public async Task LoginRole_GrantsItselfAPrivilegedRole_IsPermissionDenied(string role)
    {
        try
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => AsLoginAsync($"GRANT {role} TO app_login"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
            Assert.False(await app.Database.ScalarAsAdminAsync<bool>($"select pg_has_role('app_login', '{role}', 'MEMBER')"));
        }
        finally
        {
            // Role membership is cluster-wide: on a cluster where the grant went through, take it back at once.
            await app.Database.ExecuteAsAdminAsync($"REVOKE {role} FROM app_login");
        }
    }

    [Theory]
    [InlineData("app_owner")]
    [InlineData("app_login")]
    [InlineData("pg_read_server_files")]
    [InlineData("postgres")]
    [InlineData("t_x; drop")]
    [InlineData("t_abcdefgh; DROP ROLE app_owner")]
    [InlineData("t_short")]
    [InlineData("T_ABCDEFGH")]
    [InlineData("t_abcdefgh\n")]
    [InlineData("t_abcdefgh\" SUPERUSER \"")]
    public async Task ProvisioningFunctions_NotATenantName_AreRefused(string name)
    {
        foreach (var function in new[] { "create_tenant_role", "drop_tenant_role" })
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => AsLoginAsync($"select provisioning.{function}(@name)", name));
            Assert.Equal(PostgresErrorCodes.InvalidParameterValue, ex.SqlState);
        }
        // The roles that exist are still there; nothing new was made.
        Assert.Equal(3L, await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_roles where rolname in ('app_owner', 'app_login', 'postgres')"));
        Assert.False(await app.Database.ScalarAsAdminAsync<bool>("select pg_has_role('app_login', 'pg_read_server_files', 'MEMBER')"));
    }

    [Fact]
    public async Task ProvisioningFunctions_CannotBeReplacedOrTakenOverByTheLoginRole()
    {
        foreach (var sql in new[]
        {
            "CREATE OR REPLACE FUNCTION provisioning.create_tenant_role(tenant text) RETURNS void LANGUAGE sql AS 'select 1'",
            "CREATE FUNCTION provisioning.smuggled() RETURNS int LANGUAGE sql AS 'select 1'",
            "ALTER FUNCTION provisioning.drop_tenant_role(text) SECURITY INVOKER",
            "SET ROLE app_provisioner",
        })
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => AsLoginAsync(sql));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
        }
        // EXECUTE is the login role's alone.
        var grantees = await app.Database.ScalarAsAdminAsync<string>(
            """
            select string_agg(distinct coalesce(r.rolname, 'PUBLIC'), ',' order by coalesce(r.rolname, 'PUBLIC'))
            from pg_proc p
            join pg_namespace n on n.oid = p.pronamespace
            cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
            left join pg_roles r on r.oid = a.grantee
            where n.nspname = 'provisioning' and a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner
            """);
        Assert.Equal("app_login", grantees);
    }

    [Fact]
    public async Task ProvisionTenant_ThenDrop_CreatesAndRemovesANologinNoinheritRoleGrantedToTheLoginRole()
    {
        var migrator = app.Get<SchemaMigrator>();
        var tenant = TenantSchemaName.NewRandom();
        await migrator.ProvisionTenantAsync(tenant, default);

        var shape = await app.Database.ScalarAsAdminAsync<string>(
            $"select rolcanlogin::text || rolinherit::text || rolcreaterole::text || pg_has_role('app_login', rolname, 'MEMBER')::text from pg_roles where rolname = '{tenant.Value}'");
        Assert.Equal("falsefalsefalsetrue", shape);
        Assert.Equal(1L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_tables where schemaname = '{tenant.Value}' and tablename = 'audit_events'"));

        await migrator.DropTenantAsync(tenant, default);
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_roles where rolname = '{tenant.Value}'"));
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_namespace where nspname = '{tenant.Value}'"));
    }

    [Fact]
    public async Task DropTenantRole_ALoginRoleWithATenantLikeName_IsRefused()
    {
        // A role someone else made under a tenant-like name, with rights a tenant role never has.
        var name = TenantSchemaName.NewRandom().Value;
        await app.Database.ExecuteAsAdminAsync($"CREATE ROLE \"{name}\" LOGIN");
        try
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => AsLoginAsync("select provisioning.drop_tenant_role(@name)", name));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
            Assert.Equal(1L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_roles where rolname = '{name}'"));
        }
        finally
        {
            await app.Database.ExecuteAsAdminAsync($"DROP ROLE IF EXISTS \"{name}\"");
        }
    }

    private async Task AsLoginAsync(string sql, string? name = null)
    {
        await using var conn = new NpgsqlConnection(app.Database.AppConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        if (name is not null)
        {
            cmd.Parameters.AddWithValue("name", name);
        }
        await cmd.ExecuteNonQueryAsync();
    }
}
