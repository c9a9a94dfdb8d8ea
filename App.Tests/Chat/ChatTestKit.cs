using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using AgentSpace.Agents;
using AgentSpace.Chat;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenAI;

namespace AgentSpace.Tests.Chat;

/// <summary>
/// A model gateway for tests: any provider id answers through the real OpenAI connector over HTTP to the
/// <see cref="RecordingModelServer"/>; no provider is the built-in offline client. (The app's own gateway
/// reads providers and keys from the vault; it has its own tests.)
/// </summary>
public sealed class RecordingServerGateway(Func<RecordingModelServer> server) : IModelGateway
{
    public const string Label = "Recording server";

    public static ModelPrice Price { get; } = new(1m, 2m);

    public Task<ModelRoute> RouteAsync(TenantWork work, ModelChoice choice, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(choice);
        return Task.FromResult(new ModelRoute(choice, null, null, choice.ProviderId is null ? ModelPrice.Free : Price, null));
    }

    public Task<ModelConnection> ConnectAsync(Guid organizationId, ModelRoute route, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(route);
        return ConnectAsync(organizationId, route.Choice, ct);
    }

    public Task<ModelConnection> ConnectAsync(Guid organizationId, ModelChoice choice, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(choice);
        if (choice.ProviderId is null)
        {
            return Task.FromResult(new ModelConnection(new OfflineChatClient(), OfflineChatClient.Label, OfflineChatClient.ModelId, true, ModelPrice.Free));
        }
        var model = choice.Model ?? "scripted-small";
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(server().BaseUrl),
            // Retries belong to the app's gateway (with its own tests); here a scripted failure must reach the engine as it is.
            RetryPolicy = new ClientRetryPolicy(0),
        };
        var client = new OpenAIClient(new ApiKeyCredential(server().ApiKey), options).GetChatClient(model).AsIChatClient();
        return Task.FromResult(new ModelConnection(client, Label, model, false, Price));
    }
}

/// <summary>A cost guard that allows everything and keeps what was recorded: for tests that are not about limits.</summary>
public sealed class PermissiveCostGuard : ICostGuard
{
    public ConcurrentQueue<UsageEntry> Recorded { get; } = new();

    public Task<TurnRefusal?> CheckTurnAsync(TenantWork work, Guid agentId, CancellationToken ct) => Task.FromResult<TurnRefusal?>(null);

    public Task<SpendDecision> CheckCallAsync(Guid organizationId, RunBudget run, decimal projectedUsd, CancellationToken ct) =>
        Task.FromResult(new SpendDecision(SpendTier.Ok, 0, run?.CapUsd, TimeSpan.Zero, null));

    public Task<SpendDecision> CheckCallAsync(TenantWork work, RunBudget run, decimal projectedUsd, CancellationToken ct) =>
        Task.FromResult(new SpendDecision(SpendTier.Ok, 0, run?.CapUsd, TimeSpan.Zero, null));

    public Task RecordAsync(Guid organizationId, UsageEntry entry, CancellationToken ct)
    {
        Recorded.Enqueue(entry);
        return Task.CompletedTask;
    }

    public Task ReleaseAsync(Guid organizationId, Guid reservationId, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>The app's services with a recording model server behind every provider, and (unless <see cref="UseAppCostGuard"/>) a permissive cost guard.</summary>
public class ChatFixture : AppServices
{
    private RecordingModelServer? _server;

    public RecordingModelServer Server => _server ?? throw new InvalidOperationException("Not initialized");

    /// <summary>True: the app's own <see cref="ICostGuard"/> (the limits feature) decides.</summary>
    protected virtual bool UseAppCostGuard => false;

    /// <summary>True: the app's own <see cref="IModelGateway"/> (providers and keys from the vault) connects.</summary>
    protected virtual bool UseAppGateway => false;

    public PermissiveCostGuard Guard { get; } = new();

    public override async Task InitializeAsync()
    {
        _server = await RecordingModelServer.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    protected override void ConfigureServices(IServiceCollection services)
    {
        if (!UseAppGateway)
        {
            AddTestModels(services, () => Server, UseAppCostGuard ? null : Guard);
        }
        else if (!UseAppCostGuard)
        {
            services.RemoveAll<ICostGuard>();
            services.AddSingleton<ICostGuard>(Guard);
        }
    }

    /// <summary>A provider at the recording server with its key and one priced model, created as an owner does on Settings → Models.</summary>
    public async Task<Guid> AddProviderAsync(AgentSpace.Identity.Actor owner, OrgSummary org)
    {
        ArgumentNullException.ThrowIfNull(org);
        var id = await WithAsync<ProviderService, Guid>(s => s.CreateAsync(owner, org.Slug, new ProviderInput("Recording", ModelProviderKind.OpenAICompatible, Server.BaseUrl), Server.ApiKey, default));
        await WithAsync<ProviderService, int>(s => s.AddModelsAsync(owner, org.Slug, id, ["scripted-small"], default));
        await WithAsync<ProviderService>(s => s.SetPriceAsync(owner, org.Slug, id, "scripted-small", 0.5m, 1.5m, default));
        return id;
    }

    /// <summary>An agent answering through an existing provider.</summary>
    public async Task<Agent> CreateAgentWithProviderAsync(OrgSummary org, Guid providerId, string? instructions = null)
    {
        var agent = await CreateAgentAsync(org, instructions, offline: true);
        await InTenantAsync(org, async db =>
        {
            var stored = await db.Agents.FirstAsync(a => a.Id == agent.Id);
            stored.ProviderId = providerId;
            stored.Model = "scripted-small";
            await db.SaveChangesAsync();
        });
        agent.ProviderId = providerId;
        agent.Model = "scripted-small";
        return agent;
    }

    /// <summary>Registers the test gateway (and a cost guard, when given) in place of the app's.</summary>
    public static void AddTestModels(IServiceCollection services, Func<RecordingModelServer> server, ICostGuard? guard)
    {
        services.RemoveAll<IModelGateway>();
        services.AddSingleton<IModelGateway>(new RecordingServerGateway(server));
        if (guard is not null)
        {
            services.RemoveAll<ICostGuard>();
            services.AddSingleton(guard);
        }
    }

    /// <summary>An agent in <paramref name="org"/>, answering through the recording server unless <paramref name="offline"/>.</summary>
    public async Task<Agent> CreateAgentAsync(OrgSummary org, string? instructions = null, IEnumerable<string>? tools = null, bool offline = false,
        decimal? costCap = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(org);
        var now = Clock.GetUtcNow();
        var agent = new Agent
        {
            Id = Guid.CreateVersion7(),
            Name = name ?? "agent-" + Guid.NewGuid().ToString("N")[..8],
            Colour = "#336699",
            Instructions = instructions ?? "",
            Model = offline ? null : "scripted-small",
            Tools = [.. tools ?? []],
            RunCostCapUsd = costCap,
            CreatedBy = Guid.Empty,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await InTenantAsync(org, async db =>
        {
            if (!offline)
            {
                var provider = new ModelProvider
                {
                    Id = Guid.CreateVersion7(),
                    Name = "recording-" + Guid.NewGuid().ToString("N")[..6],
                    Kind = ModelProviderKind.OpenAICompatible,
                    BaseUrl = Server.BaseUrl,
                    CreatedAt = now,
                    UpdatedAt = now,
                };
                db.ModelProviders.Add(provider);
                agent.ProviderId = provider.Id;
            }
            db.Agents.Add(agent);
            await db.SaveChangesAsync();
        });
        return agent;
    }

    public Task AddMemoryAsync(OrgSummary org, Guid agentId, string fact) =>
        InTenantAsync(org, async db =>
        {
            db.AgentMemories.Add(new AgentMemory { Id = Guid.CreateVersion7(), AgentId = agentId, Fact = fact, CreatedAt = Clock.GetUtcNow() });
            await db.SaveChangesAsync();
        });

    /// <summary>Every stored turn of a conversation, oldest first, read as the system.</summary>
    public Task<List<ChatTurn>> TurnsAsync(OrgSummary org, Guid conversationId) =>
        InTenantAsync(org, db => db.ChatTurns.AsNoTracking().Where(m => m.ConversationId == conversationId).OrderBy(m => m.CreatedAt).ToListAsync());

    public Task<List<ChatTurn>> AllTurnsAsync(OrgSummary org) =>
        InTenantAsync(org, db => db.ChatTurns.AsNoTracking().ToListAsync());

    public Task<List<ToolCallRecord>> ToolCallsAsync(OrgSummary org, Guid messageId) =>
        InTenantAsync(org, db => db.ToolCalls.AsNoTracking().Where(c => c.MessageId == messageId).OrderBy(c => c.Sequence).ToListAsync());

    public Task<List<AgentMemory>> MemoriesAsync(OrgSummary org, Guid agentId) =>
        InTenantAsync(org, db => db.AgentMemories.AsNoTracking().Where(m => m.AgentId == agentId).ToListAsync());

    public async Task<T> InTenantAsync<T>(OrgSummary org, Func<AgentSpace.Data.TenantDbContext, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(org);
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TenantOperation>()
            .RunAsSystemAsync(org.Id, "test setup", (w, _) => work(w.Db), CancellationToken.None);
    }

    public Task InTenantAsync(OrgSummary org, Func<AgentSpace.Data.TenantDbContext, Task> work) =>
        InTenantAsync<bool>(org, async db =>
        {
            await work(db);
            return true;
        });

    public ChatEngine Engine => Services.GetRequiredService<ChatEngine>();
}
