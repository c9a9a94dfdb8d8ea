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
    /// <summary>The settings the services were built with, for a test host (bUnit) that registers the same features.</summary>
    public IConfiguration Configuration { get; private set; } = new ConfigurationBuilder().Build();
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));
    public string MailFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-mail-" + Guid.NewGuid().ToString("N"));
    /// <summary>This fixture's own upload folder: the start-up sweep of one fixture must not touch another's files.</summary>
    public string KnowledgeFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-knowledge-" + Guid.NewGuid().ToString("N"));

    /// <summary>False: the app keeps the system clock (a scheduler that fires on the wall clock needs it); <see cref="Clock"/> is then unused by the app.</summary>
    protected virtual bool UsesFakeClock => true;

    /// <summary>Extra settings a test class needs (override in a derived fixture).</summary>
    protected virtual IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>();

    public virtual async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = _database.AppConnectionString,
            ["Email:PickupDirectory"] = MailFolder,
            // Every test user signs in from the same address; the tenancy limits have their own tests
            // (TenancyRateLimitTests), so other classes are not throttled by each other's setup.
            ["Tenancy:RateLimits:OrganizationsPerUser"] = "1000",
            ["Tenancy:RateLimits:OrganizationsPerIp"] = "1000",
            ["Tenancy:RateLimits:InvitationsPerUser"] = "1000",
            ["Tenancy:RateLimits:InvitationsPerOrganization"] = "1000",
            ["Tenancy:RateLimits:InvitationsPerIp"] = "1000",
            ["App:PublicBaseUrl"] = "https://agentspace.test",
            // A throwaway vault master key per fixture (outside Development the vault has no default).
            ["Vault:MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Knowledge:TempDirectory"] = KnowledgeFolder,
            // Only the workflow fixtures join a scheduler cluster; elsewhere no node runs workflows.
            ["Workflows:Scheduler:Enabled"] = "false",
        };
        foreach (var (k, v) in ExtraSettings)
        {
            settings[k] = v;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        Configuration = configuration;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<IHostEnvironment>(new TestHostEnvironment());
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddAppFeatures(configuration);
        ConfigureServices(services);
        if (UsesFakeClock)
        {
            services.AddSingleton<TimeProvider>(Clock);
        }
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await _provider.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(CancellationToken.None);
        foreach (var hosted in _provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }
    }

    /// <summary>Registrations a derived fixture adds or replaces after the app's features (a test model gateway, say).</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    public virtual async Task DisposeAsync()
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
        if (Directory.Exists(KnowledgeFolder))
        {
            Directory.Delete(KnowledgeFolder, recursive: true);
        }
    }

    public T Get<T>() where T : notnull => Services.CreateScope().ServiceProvider.GetRequiredService<T>();

    /// <summary>A user that exists in platform.users, as if it had signed in once.</summary>
    public async Task<Actor> CreateUserAsync(string email, string? ip = "203.0.113.7")
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
        await using var ctx = await db.CreateDbContextAsync();
        var user = AppUser.Create(email, Clock.GetUtcNow());
        ctx.Users.Add(user);
        await ctx.SaveChangesAsync();
        return new Actor(user.Id, user.Email!, ip);
    }

    /// <summary>A new user with a unique address that starts with <paramref name="name"/>.</summary>
    public Task<Actor> NewUserAsync(string name, string? ip = "203.0.113.7") =>
        CreateUserAsync($"{name}-{Guid.NewGuid():N}@example.com", ip);

    /// <summary>An organization created through the service, as its owner would from the UI.</summary>
    public Task<OrgSummary> CreateOrgAsync(Actor owner, string? slug = null) =>
        WithAsync<OrganizationService, OrgSummary>(s =>
            s.CreateAsync(owner, slug ?? "org-" + Guid.NewGuid().ToString("N")[..8], "Org " + owner.Email, default));

    /// <summary>A new user made a member of <paramref name="org"/> with <paramref name="role"/> (as if they had accepted an invitation).</summary>
    public async Task<Actor> AddMemberAsync(OrgSummary org, OrgRole role, string? name = null, string? ip = "203.0.113.7")
    {
        ArgumentNullException.ThrowIfNull(org);
        var user = await NewUserAsync(name ?? role.ToString().ToLowerInvariant(), ip);
        await using var scope = Services.CreateAsyncScope();
        var factory = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = user.UserId, Role = role, JoinedAt = Clock.GetUtcNow() });
        await db.SaveChangesAsync();
        return user;
    }

    /// <summary>"An organization with a member of role R": a fresh owner, their organization and a member with <paramref name="role"/>.</summary>
    public async Task<TestOrg> OrgWithMemberAsync(OrgRole role)
    {
        var owner = await NewUserAsync("owner");
        var org = await CreateOrgAsync(owner);
        return new TestOrg(owner, org, await AddMemberAsync(org, role));
    }

    /// <summary>The organization's audit log as an Admin or Owner reads it (newest first, up to 200 rows).</summary>
    public async Task<List<AuditEvent>> AuditLogAsync(Actor admin, string slug) =>
        [.. (await WithAsync<AuditService, AuditPage>(s => s.SearchAsync(admin, slug, new AuditFilter(), 1, AuditService.MaxPageSize, default))).Items];

    /// <summary>The token of the invitation mailed to <paramref name="email"/> (waits for the mail queue).</summary>
    public async Task<string> InvitationTokenFromMailAsync(string email)
    {
        const string marker = "/invitations/accept?token=";
        for (var i = 0; i < 100; i++)
        {
            if (Directory.Exists(MailFolder))
            {
                foreach (var file in Directory.GetFiles(MailFolder, "*.eml"))
                {
                    using var message = await MimeKit.MimeMessage.LoadAsync(file);
                    var body = message.TextBody ?? "";
                    var at = body.IndexOf(marker, StringComparison.Ordinal);
                    if (message.To.Mailboxes.Any(m => m.Address == email) && at >= 0)
                    {
                        return body.Substring(at + marker.Length, 43);
                    }
                }
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("No invitation email for " + email);
    }

    /// <summary>How many messages the mail queue has written for <paramref name="email"/> so far.</summary>
    public async Task<int> MailCountAsync(string email)
    {
        if (!Directory.Exists(MailFolder))
        {
            return 0;
        }
        var count = 0;
        foreach (var file in Directory.GetFiles(MailFolder, "*.eml"))
        {
            using var message = await MimeKit.MimeMessage.LoadAsync(file);
            count += message.To.Mailboxes.Count(m => m.Address == email);
        }
        return count;
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

/// <summary>An organization with its owner and one member (see <see cref="AppServices.OrgWithMemberAsync"/>).</summary>
public sealed record TestOrg(Actor Owner, OrgSummary Org, Actor Member);
