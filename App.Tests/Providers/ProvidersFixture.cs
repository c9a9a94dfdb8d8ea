using AgentSpace.Identity;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Providers;

/// <summary>The app's services with short model timeouts and backoff, so retry tests take seconds.</summary>
public sealed class ProvidersFixture : AppServices
{
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(1);

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Models:Timeout"] = AttemptTimeout.ToString(),
        ["Models:TotalTimeout"] = "00:00:20",
        ["Models:Retries"] = "2",
        ["Models:RetryDelay"] = "00:00:00.200",
        ["Models:MaxRetryAfter"] = "00:00:05",
    };

    /// <summary>A provider pointing at <paramref name="server"/>, with its key and one priced model, created as the owner would.</summary>
    public async Task<Guid> AddProviderAsync(Actor owner, OrgSummary org, RecordingModelServer server, string? apiKey = null, string name = "Recording")
    {
        ArgumentNullException.ThrowIfNull(org);
        ArgumentNullException.ThrowIfNull(server);
        var id = await WithAsync<ProviderService, Guid>(s => s.CreateAsync(owner, org.Slug, new ProviderInput(name, ModelProviderKind.OpenAICompatible, server.BaseUrl), apiKey ?? server.ApiKey, default));
        await WithAsync<ProviderService, int>(s => s.AddModelsAsync(owner, org.Slug, id, ["scripted-small"], default));
        await WithAsync<ProviderService>(s => s.SetPriceAsync(owner, org.Slug, id, "scripted-small", 0.5m, 1.5m, default));
        return id;
    }
}
