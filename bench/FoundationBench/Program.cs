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
using Microsoft.Extensions.Logging;
using Npgsql;

// Foundation benchmarks on a fresh database of the local cluster (scripts/postgres.sh):
//  1. provisioning one tenant (role + schema + migrations + grants), per tenant;
//  2. `migrate` over 100 and over all tenants when they are up to date (what a deploy pays);
//  3. the per-unit-of-work cost of set_config(role) + set_config(search_path) against the same
//     transaction without it, interleaved so drift hits both alike;
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

Console.WriteLine($"Unit-of-work overhead, {iterations} interleaved pairs...");
var dataSource = services.GetRequiredService<NpgsqlDataSource>();
var withScope = new List<double>(iterations);
var without = new List<double>(iterations);
var tenant = schemas[0];
for (var i = 0; i < iterations + 200; i++)
{
    var a = await TimeTransactionAsync(dataSource, tenant, scoped: false);
    var b = await TimeTransactionAsync(dataSource, tenant, scoped: true);
    if (i >= 200) // warm-up
    {
        without.Add(a);
        withScope.Add(b);
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
    $"unit of work, begin + select + commit: median {Median(without).ToString("F1", inv)} µs, p95 {P95(without).ToString("F1", inv)} µs",
    $"unit of work with set_config(role, search_path): median {Median(withScope).ToString("F1", inv)} µs, p95 {P95(withScope).ToString("F1", inv)} µs",
    $"overhead: median +{(Median(withScope) - Median(without)).ToString("F1", inv)} µs (ratio {(Median(withScope) / Median(without)).ToString("F2", inv)}x)",
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

static async Task<double> TimeTransactionAsync(NpgsqlDataSource dataSource, TenantSchemaName tenant, bool scoped)
{
    var sw = Stopwatch.StartNew();
    await using var conn = await dataSource.OpenConnectionAsync();
    await using var tx = await conn.BeginTransactionAsync();
    if (scoped)
    {
        await using var set = new NpgsqlCommand("select set_config('role', @r, true), set_config('search_path', @p, true)", conn, tx);
        set.Parameters.AddWithValue("r", tenant.Value);
        set.Parameters.AddWithValue("p", tenant.Value + ", extensions");
        await set.ExecuteNonQueryAsync();
    }
    await using (var query = new NpgsqlCommand("select now()", conn, tx))
    {
        await query.ExecuteScalarAsync();
    }
    await tx.CommitAsync();
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

internal sealed class BenchEnvironment : Microsoft.Extensions.Hosting.IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Benchmark";
    public string ApplicationName { get; set; } = "App";
    public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}
