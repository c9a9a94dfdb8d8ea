using AgentSpace.Admin;
using AgentSpace.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Admin;

public sealed class AdminCommandsTests(AppServices app) : IClassFixture<AppServices>
{
    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync(args, app.Services, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task TenantCreateListVerifyDelete_RoundTrip()
    {
        var slug = "cli-" + Guid.NewGuid().ToString("N")[..8];
        var created = await RunAsync("tenant", "create", slug, "--owner", "Ops@Example.com");
        Assert.Equal(0, created.Code);
        Assert.Contains("owned by ops@example.com", created.Out, StringComparison.Ordinal);

        var list = await RunAsync("tenant", "list");
        Assert.Equal(0, list.Code);
        Assert.Contains(slug, list.Out, StringComparison.Ordinal);

        var verify = await RunAsync("audit", "verify", slug);
        Assert.Equal(0, verify.Code);
        Assert.StartsWith("OK", verify.Out, StringComparison.Ordinal);
        var head = verify.Out.Split('\n').Single(l => l.StartsWith("head: ", StringComparison.Ordinal))["head: ".Length..].Trim();
        Assert.Equal(0, (await RunAsync("audit", "verify", slug, "--expect-head", head)).Code);
        Assert.Equal(2, (await RunAsync("audit", "verify", slug, "--expect-head", "not-a-head")).Code);

        var migrate = await RunAsync("migrate");
        Assert.Equal(0, migrate.Code);
        Assert.Contains($"{slug}: ok", migrate.Out, StringComparison.Ordinal);

        Assert.Equal(2, (await RunAsync("tenant", "delete", slug)).Code); // needs --yes
        var deleted = await RunAsync("tenant", "delete", slug, "--yes");
        Assert.Equal(0, deleted.Code);
        Assert.DoesNotContain(slug, (await RunAsync("tenant", "list")).Out, StringComparison.Ordinal);
        Assert.Equal(1, (await RunAsync("audit", "verify", slug)).Code);
    }

    [Fact]
    public async Task AuditVerify_TamperedRow_ExitsOneAndNamesRow()
    {
        var slug = "cli-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, (await RunAsync("tenant", "create", slug, "--owner", "tamper@example.com")).Code);
        var schema = await app.Database.ScalarAsAdminAsync<string>($"select schema_name from platform.organizations where slug = '{slug}'");
        await app.Database.ExecuteAsAdminAsync($"update \"{schema}\".audit_events set target = 'other' where seq = 1");
        var verify = await RunAsync("audit", "verify", slug);
        Assert.Equal(1, verify.Code);
        Assert.Contains("row 1", verify.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tenant", "create")]
    [InlineData("tenant", "create", "ok-slug")]
    [InlineData("tenant", "create", "ok-slug", "--owner", "not-an-email")]
    [InlineData("tenant", "create", "Bad Slug", "--owner", "a@example.com")]
    [InlineData("tenant", "frobnicate")]
    [InlineData("audit", "verify")]
    public async Task BadUsage_ExitsTwoWithMessage(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.Equal(2, result.Code);
        Assert.StartsWith("error: ", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_ForEveryCommand_ExitsZero()
    {
        foreach (var args in new[] { ["--help"], ["migrate", "--help"], ["tenant", "create", "--help"], ["tenant", "list", "--help"], ["tenant", "delete", "--help"], new[] { "audit", "verify", "--help" } })
        {
            var result = await RunAsync(args);
            Assert.Equal(0, result.Code);
            Assert.Contains("Usage", result.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UserSuspend_EndsSessionsAndBlocksSignIn_ResumeLiftsIt()
    {
        var email = $"suspend-{Guid.NewGuid():N}@example.com";
        var user = await app.CreateUserAsync(email);
        var principal = await app.WithAsync<SessionService, System.Security.Claims.ClaimsPrincipal>(s =>
            s.StartAsync(new AppUser { Id = user.UserId, Email = email }, null, null, default));
        Assert.True(await app.WithAsync<SessionService, bool>(s => s.IsActiveAsync(principal, default)));

        Assert.Equal(0, (await RunAsync("user", "suspend", email)).Code);
        Assert.False(await app.WithAsync<SessionService, bool>(s => s.IsActiveAsync(principal, default)));
        Assert.Equal(0, (await RunAsync("user", "resume", email)).Code);
        // Resuming does not revive ended sessions: the user signs in again.
        Assert.False(await app.WithAsync<SessionService, bool>(s => s.IsActiveAsync(principal, default)));
        Assert.Equal(1, (await RunAsync("user", "suspend", "nobody@example.com")).Code);
        Assert.Equal(2, (await RunAsync("user", "suspend", "not-an-email")).Code);
    }

    [Fact]
    public async Task AnyCommand_OnUnmigratedDatabase_SaysToMigrate()
    {
        await using var empty = await TestDatabase.CreateAsync();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Default"] = empty.AppConnectionString }).Build();
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddData(configuration)
            .AddTenancy()
            .BuildServiceProvider();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync(["tenant", "list"], services, output, error);
        Assert.Equal(1, code);
        Assert.Equal("error: the database has not been migrated yet. Run: App migrate", error.ToString().Trim());
    }

    [Theory]
    [InlineData("tenant", "list")]
    [InlineData("migrate")]
    public async Task AnyCommand_NonDatabaseFailure_PrintsOneLineAndExitsOne(params string[] args)
    {
        // An operator's typo in the connection string: Npgsql throws ArgumentException, not a database error.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Default"] = "Host=127.0.0.1;Databse=agentspace" }).Build();
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddData(configuration)
            .AddTenancy()
            .BuildServiceProvider();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await AdminCommands.RunAsync(args, services, output, error);

        Assert.Equal(1, code);
        var line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("databse", line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task TenantDelete_UnknownSlug_ExitsOne()
    {
        var result = await RunAsync("tenant", "delete", "no-such-org", "--yes");
        Assert.Equal(1, result.Code);
        Assert.Contains("no organization", result.Err, StringComparison.Ordinal);
    }
}
