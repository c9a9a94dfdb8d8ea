using AgentSpace.Data;
using AgentSpace.E2E.Infrastructure;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSpace.E2E.Workflows;

/// <summary>
/// One fresh database, migrated by <c>App.dll migrate</c>, and any number of App.dll processes on it, each a node of
/// the workflow scheduler's cluster. The test process builds App's own services on the same database (its scheduler
/// off: it queues and stores, never runs) to put organizations and workflows in place, as no page does it yet, and
/// to read what the nodes did. Runs, crashes and recovery happen in the nodes.
/// </summary>
public sealed class WorkflowNodes : IAsyncDisposable
{
    private readonly TestDatabase _database;
    private readonly Dictionary<string, string> _environment;
    private readonly ServiceProvider _services;
    private readonly List<AppProcess> _nodes = [];
    private readonly List<string> _folders;
    private readonly string _logName = $"{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";

    private WorkflowNodes(TestDatabase database, Dictionary<string, string> environment, ServiceProvider services, string mailFolder, List<string> folders)
    {
        _database = database;
        _environment = environment;
        _services = services;
        MailFolder = mailFolder;
        _folders = folders;
    }

    /// <summary>Where every node writes the mail it sends (the pickup folder).</summary>
    public string MailFolder { get; }

    public TestDatabase Database => _database;

    /// <summary>
    /// A database and the settings every node gets: the app's defaults as E2E tests run it, a scheduler that notices a
    /// silent node within seconds (check-in every 2 s, a node silent for 6 s is taken for stopped), HTTP steps allowed
    /// to reach the tests' receiver on 127.0.0.1, and <paramref name="settings"/> (configuration keys, with ':').
    /// </summary>
    public static async Task<WorkflowNodes> CreateAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var database = await TestDatabase.CreateAsync();
        var mail = Path.Combine(Path.GetTempPath(), "agentspace-e2e-mail-" + Guid.NewGuid().ToString("N"));
        var knowledge = Path.Combine(Path.GetTempPath(), "agentspace-e2e-knowledge-" + Guid.NewGuid().ToString("N"));
        var config = new Dictionary<string, string>
        {
            ["ConnectionStrings:Default"] = database.AppConnectionString,
            ["Email:PickupDirectory"] = mail,
            ["Knowledge:TempDirectory"] = knowledge,
            ["Vault:MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Tenancy:RateLimits:OrganizationsPerUser"] = "1000",
            ["Tenancy:RateLimits:OrganizationsPerIp"] = "1000",
            ["Workflows:Scheduler:CheckinInterval"] = "00:00:02",
            ["Workflows:Scheduler:CheckinMisfireThreshold"] = "00:00:06",
            ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.1/32",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            config[key] = value;
        }
        var environment = config.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);
        environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        try
        {
            await AppProcess.MigrateAsync(environment);
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }

        // The test process's own services: the same database and vault key, no scheduler node.
        var setup = new Dictionary<string, string?>(config.Select(kv => new KeyValuePair<string, string?>(kv.Key, kv.Value)))
        {
            ["Workflows:Scheduler:Enabled"] = "false",
            ["App:PublicBaseUrl"] = "http://127.0.0.1",
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(setup).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<IHostEnvironment>(new SetupEnvironment());
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddAppFeatures(configuration);
        return new WorkflowNodes(database, environment, services.BuildServiceProvider(), mail, [mail, knowledge]);
    }

    /// <summary>Starts one more node (App.dll over plain HTTP on a free port) and waits until it serves.</summary>
    public async Task<AppProcess> StartNodeAsync()
    {
        var node = await AppProcess.StartAsync(_environment, https: false);
        lock (_nodes)
        {
            _nodes.Add(node);
        }
        return node;
    }

    /// <summary>A service of App from a fresh scope in the test process.</summary>
    public T Get<T>() where T : notnull => _services.CreateScope().ServiceProvider.GetRequiredService<T>();

    /// <summary>A new user (as if they had signed in once) and an organization they own.</summary>
    public async Task<(Actor Owner, OrgSummary Org)> CreateOrgAsync(string name)
    {
        var factory = _services.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
        AppUser user;
        await using (var db = await factory.CreateDbContextAsync())
        {
            user = AppUser.Create($"{name}-{Guid.NewGuid().ToString("N")[..8]}@example.test", DateTimeOffset.UtcNow);
            db.Users.Add(user);
            await db.SaveChangesAsync();
        }
        var owner = new Actor(user.Id, user.Email!, "127.0.0.1");
        await using var scope = _services.CreateAsyncScope();
        var org = await scope.ServiceProvider.GetRequiredService<OrganizationService>()
            .CreateAsync(owner, $"{name}-{Guid.NewGuid().ToString("N")[..8]}", name, default);
        return (owner, org);
    }

    /// <summary>How many scheduler nodes are checked in to the cluster now.</summary>
    public async Task<long> CheckedInNodesAsync() =>
        await _database.ScalarAsAdminAsync<long>("select count(*) from quartz.qrtz_scheduler_state");

    public async ValueTask DisposeAsync()
    {
        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;
        for (var i = 0; i < _nodes.Count; i++)
        {
            await _nodes[i].DisposeAsync();
            // Kept beside the screenshots: what each node did.
            await File.WriteAllTextAsync(Path.Combine(folder, $"app-output-{_logName}-node{i + 1}.log"), _nodes[i].FullOutput);
        }
        await _services.DisposeAsync();
        try
        {
            await _database.DisposeAsync();
        }
        catch (Npgsql.NpgsqlException)
        {
            // Dropping the database can outlast its command timeout on a loaded machine: once more, after a pause.
            await Task.Delay(TimeSpan.FromSeconds(5));
            try
            {
                await _database.DisposeAsync();
            }
            catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.InvalidCatalogName)
            {
                // The first drop did finish after all.
            }
        }
        foreach (var path in _folders.Where(Directory.Exists))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private sealed class SetupEnvironment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Testing";
        public string ApplicationName { get; set; } = "App";
        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }
}
