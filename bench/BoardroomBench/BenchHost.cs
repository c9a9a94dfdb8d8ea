using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using AgentSpace.Agents;
using AgentSpace.Boardroom;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSpace.Bench;

/// <summary>The app's real registrations (as App.Tests' AppServices builds them) on the system clock, hosted services started.</summary>
internal sealed class BenchServices : IAsyncDisposable
{
    private BenchServices(ServiceProvider provider) => Provider = provider;

    public ServiceProvider Provider { get; }

    public static async Task<BenchServices> StartAsync(string connectionString, string masterKey)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = connectionString,
            ["Email:PickupDirectory"] = Path.Combine(Path.GetTempPath(), "agentspace-bench-mail-" + Guid.NewGuid().ToString("N")),
            ["App:PublicBaseUrl"] = "https://bench.test",
            ["Vault:MasterKey"] = masterKey,
        }).Build();
        var services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning).AddConsole())
            .AddSingleton<IConfiguration>(configuration)
            .AddSingleton<IHostEnvironment>(new BenchEnvironment());
        services.AddAppFeatures(configuration);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(default);
        foreach (var hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(default);
        }
        return new BenchServices(provider);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var hosted in Provider.GetServices<IHostedService>())
        {
            await hosted.StopAsync(default);
        }
        await Provider.DisposeAsync();
    }
}

/// <summary>
/// An owner, their organization with a monthly quota, a provider pointing at the recording server (key in the vault,
/// priced model), and the board: member agents and a chair on that provider, each with its limits on.
/// </summary>
internal sealed record BoardWorld(Actor Owner, OrgSummary Org, Guid ProviderId, IReadOnlyList<Guid> MemberIds, Guid ChairId)
{
    public const string Model = "scripted-small";
    public const decimal SessionBudgetUsd = 100m;
    private static readonly string[] Names = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus"];

    public SessionInput Input(int index, int rounds) => new(
        $"Session {index}: should the company move its head office to Lisbon next year?",
        null, MemberIds, ChairId, rounds, SpeakerOrders.RoundRobin, BoardroomModes.Sealed, SessionBudgetUsd);

    public static async Task<BoardWorld> CreateAsync(IServiceProvider services, RecordingModelServer server, int members)
    {
        var owner = await NewUserAsync(services, "bench-owner@bench.test");
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var org = await sp.GetRequiredService<OrganizationService>().CreateAsync(owner, "board-" + Guid.NewGuid().ToString("N")[..8], "Board bench", default);
        var providers = sp.GetRequiredService<ProviderService>();
        var providerId = await providers.CreateAsync(owner, org.Slug, new ProviderInput("Recording", ModelProviderKind.OpenAICompatible, server.BaseUrl), server.ApiKey, default);
        await providers.AddModelsAsync(owner, org.Slug, providerId, [Model], default);
        await providers.SetPriceAsync(owner, org.Slug, providerId, Model, 0.5m, 1.5m, default);
        // Every limit on, none of them close: the checks run as in production and nothing throttles the run.
        await sp.GetRequiredService<UsageService>().SetMonthlyQuotaAsync(owner, org.Slug, UsageService.MaxQuotaUsd, default);
        var agents = sp.GetRequiredService<AgentService>();
        async Task<Guid> SeatAsync(string name, string role) => (await agents.CreateAsync(owner, org.Slug, new AgentInput
        {
            Name = name,
            Colour = "#3f51b5",
            // The key lets a script tell the participants apart, as the tests' agents carry one.
            Instructions = $"You are {name}, {role}. Be brief and concrete. key: {name.ToLowerInvariant()}",
            ProviderId = providerId,
            Model = Model,
            DailyMessageLimit = AgentValidation.MaxDailyMessageLimit,
            RunCostCapUsd = 1000m,
            MonthlyBudgetUsd = AgentValidation.MaxMonthlyBudgetUsd,
        }, default)).Id;
        var memberIds = new List<Guid>();
        foreach (var name in Names.Take(members))
        {
            memberIds.Add(await SeatAsync(name, "a member of the board"));
        }
        var chair = await SeatAsync("Chair", "the chair of the board");
        return new BoardWorld(owner, org, providerId, memberIds, chair);
    }

    private static async Task<Actor> NewUserAsync(IServiceProvider services, string email)
    {
        var factory = services.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var user = AppUser.Create(email, DateTimeOffset.UtcNow);
        db.Users.Add(user);
        await db.SaveChangesAsync();
        return new Actor(user.Id, user.Email!, "203.0.113.7");
    }
}

internal sealed class BenchEnvironment : IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Benchmark";
    public string ApplicationName { get; set; } = "App";
    public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}

/// <summary>What went to PostgreSQL on behalf of one tracked flow: every command Npgsql sent and every EF Core transaction's end.</summary>
/// <param name="Ms">How long the command took, as Npgsql's activity measured it (sent to result read); 0 for a transaction's end.</param>
internal sealed record DbEvent(long At, DbEventKind Kind, string What, double Ms = 0);

internal enum DbEventKind
{
    Command,
    TransactionEnd,
    /// <summary>A physical connection opened (the pool had none idle).</summary>
    Connect,
}

/// <summary>
/// Counts database work of the flows started inside <see cref="Track"/> only (the session's background run inherits
/// the execution context it was launched from), so other work in the process is not counted. Listens only while
/// alive: the timed sessions run without it.
/// </summary>
internal sealed partial class DbCounter : IDisposable, IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
{
    private static readonly AsyncLocal<DbCounter?> Tracking = new();
    private readonly ActivityListener _npgsql;
    private readonly IDisposable _listeners;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly ConcurrentQueue<DbEvent> _events = new();
    private readonly ConcurrentDictionary<string, string> _fullTexts = new();

    public DbCounter()
    {
        _npgsql = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("Npgsql", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            // Npgsql sets the statement's tags when the command ends; the flow is known when it starts.
            ActivityStarted = activity =>
            {
                if (Tracking.Value == this)
                {
                    activity.SetCustomProperty(nameof(DbCounter), this);
                }
            },
            ActivityStopped = activity =>
            {
                if (activity.GetCustomProperty(nameof(DbCounter)) == this)
                {
                    var started = Stopwatch.GetTimestamp() - (long)(activity.Duration.TotalSeconds * Stopwatch.Frequency);
                    var text = activity.GetTagItem("db.query.text") ?? activity.GetTagItem("db.statement");
                    var ms = activity.Duration.TotalMilliseconds;
                    _events.Enqueue(text is null
                        ? new DbEvent(started, activity.DisplayName.StartsWith("CONNECT", StringComparison.Ordinal) ? DbEventKind.Connect : DbEventKind.Command, activity.DisplayName, ms)
                        : new DbEvent(started, DbEventKind.Command, Statement(text.ToString() ?? ""), ms));
                    if (text is not null)
                    {
                        _fullTexts.TryAdd(Statement(text.ToString() ?? ""), text.ToString() ?? "");
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(_npgsql);
        _listeners = DiagnosticListener.AllListeners.Subscribe(this);
    }

    public IReadOnlyList<DbEvent> Events => [.. _events.OrderBy(e => e.At)];

    /// <summary>The whole text of each statement seen, by its shortened form.</summary>
    public IReadOnlyDictionary<string, string> FullTexts => _fullTexts;

    /// <summary>From here on, in this flow and the flows it starts, database work is counted.</summary>
    public void Track() => Tracking.Value = this;

    public void Clear() => _events.Clear();

    public void Dispose()
    {
        _npgsql.Dispose();
        _listeners.Dispose();
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener value)
    {
        if (value.Name == DbLoggerCategory.Name)
        {
            lock (_subscriptions)
            {
                _subscriptions.Add(value.Subscribe(this, name => name.EndsWith(".TransactionCommitted", StringComparison.Ordinal)
                    || name.EndsWith(".TransactionRolledBack", StringComparison.Ordinal)));
            }
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (Tracking.Value == this)
        {
            _events.Enqueue(new DbEvent(Stopwatch.GetTimestamp(), DbEventKind.TransactionEnd, value.Key.EndsWith("Committed", StringComparison.Ordinal) ? "COMMIT" : "ROLLBACK"));
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }

    /// <summary>The statement on one line, shortened so statements that differ only in their tails group together.</summary>
    private static string Statement(string text)
    {
        var line = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        line = Scope().Replace(line, "[scope]");
        return line.Length <= 140 ? line : line[..140] + "…";
    }

    [GeneratedRegex(@"SET LOCAL ROLE ""t_[0-9a-f]+""; SET LOCAL search_path = ""t_[0-9a-f]+"", extensions;", RegexOptions.CultureInvariant)]
    private static partial Regex Scope();
}
