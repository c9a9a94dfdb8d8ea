using System.Diagnostics;
using System.Globalization;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

// Foundation benchmarks on a fresh database of the local cluster (scripts/postgres.sh):
//  1. provisioning one tenant (role + schema + migrations + grants), per tenant;
//  2. `migrate` over 100 and over all tenants when they are up to date (what a deploy pays);
//  3. the per-unit-of-work cost of the tenant scope (role + search_path) against the same transaction
//     without it: sent with the first statement (as TenantUnitOfWork does) and in a round trip of its
//     own (as it did before), in ADO.NET and through EF Core, interleaved so drift hits all alike;
//  4. a sign-in link request for an email that has an account against one that has none
//     (the answers must not differ in time), interleaved.
var tenants = ArgValue("--tenants", 1000);
var iterations = ArgValue("--iterations", 5000);
var inv = CultureInfo.InvariantCulture;

await using var database = await TestDatabase.CreateAsync();
var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["ConnectionStrings:Default"] = database.AppConnectionString,
    ["SignIn:MaxRequestsPerIp"] = "1000000",
    ["SignIn:MaxRequestsGlobalPerWindow"] = "1000000",
    ["App:PublicBaseUrl"] = "https://bench.test",
    ["Email:PickupDirectory"] = Path.Combine(Path.GetTempPath(), "agentspace-bench-mail-" + Guid.NewGuid().ToString("N")),
}).Build();
var services = new ServiceCollection()
    .AddLogging(b => b.SetMinimumLevel(LogLevel.Critical))
    .AddSingleton<IConfiguration>(configuration)
    .AddSingleton<Microsoft.Extensions.Hosting.IHostEnvironment>(new BenchEnvironment())
    .AddData(configuration)
    .AddEmail(configuration)
    .AddAudit()
    .AddMagicLinkIdentity(configuration)
    .BuildServiceProvider();
var migrator = services.GetRequiredService<SchemaMigrator>();
await migrator.MigratePlatformAsync(default);

Console.WriteLine($"Provisioning {tenants} tenants...");
var schemas = new List<TenantSchemaName>(tenants);
var provision = new List<double>(tenants);
var migrateAt = new SortedDictionary<int, double>();
var platform = services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
for (var i = 0; i < tenants; i++)
{
    var schema = TenantSchemaName.NewRandom();
    var sw = Stopwatch.StartNew();
    await migrator.ProvisionTenantAsync(schema, default);
    provision.Add(sw.Elapsed.TotalMilliseconds);
    schemas.Add(schema);
    // An organization row, so `migrate` (MigrateAllAsync) finds the tenant as it would in production.
    await using (var db = await platform.CreateDbContextAsync())
    {
        db.Organizations.Add(new Organization
        {
            Id = Guid.NewGuid(), Slug = $"bench-{i:D5}", Name = $"Bench {i}", SchemaName = schema.Value, CreatedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
    }
    if (i + 1 == 100 || i + 1 == tenants)
    {
        // The whole `migrate` command: platform schema, then every tenant (all up to date).
        var m = Stopwatch.StartNew();
        var migration = await migrator.MigrateAllAsync(null, default);
        migrateAt[i + 1] = m.Elapsed.TotalSeconds;
        if (!migration.Ok)
        {
            throw new InvalidOperationException("migrate failed");
        }
    }
    if ((i + 1) % 100 == 0)
    {
        Console.WriteLine($"  {i + 1}/{tenants}");
    }
}

Console.WriteLine($"Unit-of-work overhead, {iterations} interleaved rounds...");
var dataSource = services.GetRequiredService<NpgsqlDataSource>();
var uow = services.GetRequiredService<TenantUnitOfWork>();
// A bare EF unit of work to compare TenantUnitOfWork against: the app's other context, registered the same way.
var bareFactory = services.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
var adoBare = new List<double>(iterations);
var adoScoped = new List<double>(iterations);
var adoScopedAlone = new List<double>(iterations);
var efBare = new List<double>(iterations);
var efScoped = new List<double>(iterations);
var tenant = schemas[0];
for (var i = 0; i < iterations + 200; i++)
{
    var a = await TimeTransactionAsync(dataSource, tenant, ScopeMode.None);
    var b = await TimeTransactionAsync(dataSource, tenant, ScopeMode.WithFirstStatement);
    var c = await TimeTransactionAsync(dataSource, tenant, ScopeMode.OwnRoundTrip);
    var d = await TimeBareEfAsync(bareFactory);
    var e = await TimeTenantUnitOfWorkAsync(uow, tenant);
    if (i >= 200) // warm-up
    {
        adoBare.Add(a);
        adoScoped.Add(b);
        adoScopedAlone.Add(c);
        efBare.Add(d);
        efScoped.Add(e);
    }
}

Console.WriteLine("Sign-in requests, known vs unknown email...");
var signInRequests = ArgValue("--signin", 500);
var known = new List<double>(signInRequests);
var unknown = new List<double>(signInRequests);
var platformUsers = services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
await using (var db = await platformUsers.CreateDbContextAsync())
{
    for (var i = 0; i < signInRequests + 50; i++)
    {
        db.Users.Add(AgentSpace.Identity.AppUser.Create($"known-{i}@bench.test", DateTimeOffset.UtcNow));
    }
    await db.SaveChangesAsync();
}
for (var i = 0; i < signInRequests + 50; i++)
{
    var k = await TimeSignInRequestAsync(services, $"known-{i}@bench.test");
    var u = await TimeSignInRequestAsync(services, $"unknown-{i}@bench.test");
    if (i >= 50)
    {
        known.Add(k);
        unknown.Add(u);
    }
}

var report = string.Join('\n',
[
    $"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}; machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; PostgreSQL on 127.0.0.1 (scripts/postgres.sh)",
    $"provision one tenant: median {Median(provision).ToString("F1", inv)} ms, p95 {P95(provision).ToString("F1", inv)} ms (n={tenants})",
    .. migrateAt.Select(kv => $"migrate command, {kv.Key} tenants (all up to date): {kv.Value.ToString("F2", inv)} s ({(kv.Value * 1000 / kv.Key).ToString("F1", inv)} ms/tenant)"),
    $"unit of work (ADO.NET), begin + select + commit: median {Median(adoBare).ToString("F1", inv)} µs, p95 {P95(adoBare).ToString("F1", inv)} µs",
    $"unit of work (ADO.NET), scope sent with the first statement (SET LOCAL role, search_path): median {Median(adoScoped).ToString("F1", inv)} µs, p95 {P95(adoScoped).ToString("F1", inv)} µs",
    $"  overhead: median +{(Median(adoScoped) - Median(adoBare)).ToString("F1", inv)} µs (ratio {(Median(adoScoped) / Median(adoBare)).ToString("F2", inv)}x)",
    $"unit of work (ADO.NET), scope in a round trip of its own (set_config, as before): median {Median(adoScopedAlone).ToString("F1", inv)} µs, p95 {P95(adoScopedAlone).ToString("F1", inv)} µs",
    $"  overhead: median +{(Median(adoScopedAlone) - Median(adoBare)).ToString("F1", inv)} µs (ratio {(Median(adoScopedAlone) / Median(adoBare)).ToString("F2", inv)}x)",
    $"unit of work (EF Core), bare (DI context factory), begin + SqlQueryRaw + commit: median {Median(efBare).ToString("F1", inv)} µs, p95 {P95(efBare).ToString("F1", inv)} µs",
    $"unit of work (EF Core), TenantUnitOfWork.RunAsync, same query: median {Median(efScoped).ToString("F1", inv)} µs, p95 {P95(efScoped).ToString("F1", inv)} µs",
    $"  overhead: median +{(Median(efScoped) - Median(efBare)).ToString("F1", inv)} µs (ratio {(Median(efScoped) / Median(efBare)).ToString("F2", inv)}x)",
    $"sign-in link request, existing account: median {Median(known).ToString("F2", inv)} ms, p95 {P95(known).ToString("F2", inv)} ms (n={known.Count})",
    $"sign-in link request, no account: median {Median(unknown).ToString("F2", inv)} ms, p95 {P95(unknown).ToString("F2", inv)} ms (ratio {(Median(unknown) / Median(known)).ToString("F2", inv)}x)",
]);
Console.WriteLine(report);
var results = Path.Combine(TestDatabase.RepoRoot(), "bench", "results");
Directory.CreateDirectory(results);
await File.WriteAllTextAsync(Path.Combine(results, "foundation-latest.txt"), report + "\n");
return 0;

static async Task<double> TimeSignInRequestAsync(IServiceProvider services, string email)
{
    await using var scope = services.CreateAsyncScope();
    var links = scope.ServiceProvider.GetRequiredService<MagicLinkService>();
    var sw = Stopwatch.StartNew();
    var result = await links.RequestAsync(email, "198.51.100.9", null, default);
    var elapsed = sw.Elapsed.TotalMilliseconds;
    return result == MagicLinkRequestResult.Sent ? elapsed : throw new InvalidOperationException(result.ToString());
}

static async Task<double> TimeTransactionAsync(NpgsqlDataSource dataSource, TenantSchemaName tenant, ScopeMode mode)
{
    var sw = Stopwatch.StartNew();
    await using var conn = await dataSource.OpenConnectionAsync();
    await using var tx = await conn.BeginTransactionAsync();
    if (mode == ScopeMode.OwnRoundTrip)
    {
        await using var set = new NpgsqlCommand("select set_config('role', @r, true), set_config('search_path', @p, true)", conn, tx);
        set.Parameters.AddWithValue("r", tenant.Value);
        set.Parameters.AddWithValue("p", tenant.Value + ", extensions");
        await set.ExecuteNonQueryAsync();
    }
    var scope = mode == ScopeMode.WithFirstStatement
        ? $"SET LOCAL ROLE {tenant.Quoted}; SET LOCAL search_path = {tenant.Quoted}, extensions; "
        : "";
    await using (var query = new NpgsqlCommand(scope + "select now()", conn, tx))
    {
        await query.ExecuteScalarAsync();
    }
    await tx.CommitAsync();
    return sw.Elapsed.TotalMicroseconds;
}

static async Task<double> TimeBareEfAsync(IDbContextFactory<PlatformDbContext> factory)
{
    var sw = Stopwatch.StartNew();
    await using var db = await factory.CreateDbContextAsync();
    await db.Database.OpenConnectionAsync();
    await using var tx = await db.Database.BeginTransactionAsync();
    await db.Database.SqlQueryRaw<DateTime>("select now() as \"Value\"").SingleAsync();
    await tx.CommitAsync();
    return sw.Elapsed.TotalMicroseconds;
}

static async Task<double> TimeTenantUnitOfWorkAsync(TenantUnitOfWork uow, TenantSchemaName tenant)
{
    var sw = Stopwatch.StartNew();
    await uow.RunAsync(tenant, (db, ct) => db.Database.SqlQueryRaw<DateTime>("select now() as \"Value\"").SingleAsync(ct), default);
    return sw.Elapsed.TotalMicroseconds;
}

static double Median(List<double> xs) => Percentile(xs, 0.5);
static double P95(List<double> xs) => Percentile(xs, 0.95);
static double Percentile(List<double> xs, double p)
{
    var sorted = xs.Order().ToList();
    return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(p * (sorted.Count - 1)))];
}

int ArgValue(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}

internal enum ScopeMode
{
    None,
    WithFirstStatement,
    OwnRoundTrip,
}

internal sealed class BenchEnvironment : Microsoft.Extensions.Hosting.IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Benchmark";
    public string ApplicationName { get; set; } = "App";
    public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}
