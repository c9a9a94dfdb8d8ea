using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace AgentSpace.Tests.Infrastructure;

/// <summary>
/// The app's real service registrations over a <see cref="TestDatabase"/>, migrated. Tests call the
/// services as the UI does. Mail goes to a pickup folder the test can read.
/// </summary>
public class AppServices : IAsyncLifetime
{
    private TestDatabase? _database;
    private ServiceProvider? _provider;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("Not initialized");
    public IServiceProvider Services => _provider ?? throw new InvalidOperationException("Not initialized");
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));
    public string MailFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-mail-" + Guid.NewGuid().ToString("N"));

    /// <summary>Extra settings a test class needs (override in a derived fixture).</summary>
    protected virtual IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = _database.AppConnectionString,
            ["Email:PickupDirectory"] = MailFolder,
        };
        foreach (var (k, v) in ExtraSettings)
        {
            settings[k] = v;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<IHostEnvironment>(new TestHostEnvironment());
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddData(configuration);
        services.AddEmail(configuration);
        services.AddAudit();
        services.AddMagicLinkIdentity(configuration);
        services.AddTenancy();
        services.AddSingleton<TimeProvider>(Clock);
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await _provider.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(CancellationToken.None);
        foreach (var hosted in _provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        if (_provider is not null)
        {
            foreach (var hosted in _provider.GetServices<IHostedService>())
            {
                await hosted.StopAsync(CancellationToken.None);
            }
            await _provider.DisposeAsync();
        }
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        if (Directory.Exists(MailFolder))
        {
            Directory.Delete(MailFolder, recursive: true);
        }
    }

    public T Get<T>() where T : notnull => Services.CreateScope().ServiceProvider.GetRequiredService<T>();

    /// <summary>A user that exists in platform.users, as if it had signed in once.</summary>
    public async Task<Actor> CreateUserAsync(string email, string? ip = "203.0.113.7")
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
        await using var ctx = await db.CreateDbContextAsync();
        var user = AppUser.Create(email.ToLowerInvariant(), Clock.GetUtcNow());
        ctx.Users.Add(user);
        await ctx.SaveChangesAsync();
        return new Actor(user.Id, user.Email!, ip);
    }

    /// <summary>Runs <paramref name="work"/> with a fresh scope's service.</summary>
    public async Task<TResult> WithAsync<TService, TResult>(Func<TService, Task<TResult>> work) where TService : notnull
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<TService>());
    }

    public async Task WithAsync<TService>(Func<TService, Task> work) where TService : notnull
    {
        await using var scope = Services.CreateAsyncScope();
        await work(scope.ServiceProvider.GetRequiredService<TService>());
    }

    private sealed class TestHostEnvironment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Testing";
        public string ApplicationName { get; set; } = "App";
        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }
}
