using System.Collections.Concurrent;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Providers;

/// <summary>
/// Opens a chat client for an organization's provider and model: the provider and price are read in a unit of
/// work (the caller's, or a short one of its own), the key is opened from the vault after it, and the client is
/// built after that; nothing here holds a connection while the network is used. The caller has already checked
/// the person's access.
/// </summary>
internal sealed class ModelGateway(TenantOperation operations, ISecretVault vault, ProviderConnector connector, ModelClientCache cache) : IModelGateway
{
    /// <summary>Sent to providers that need no key (a local Ollama, LM Studio): the SDKs refuse an empty one.</summary>
    internal const string NoKey = "no-key";

    public async Task<ModelConnection> ConnectAsync(Guid organizationId, ModelChoice choice, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(choice);
        if (choice.ProviderId is null)
        {
            return Offline();
        }
        var route = await operations.RunAsSystemAsync(organizationId, "model-gateway.connect", (work, token) => RouteAsync(work, choice, token), ct);
        return await ConnectAsync(organizationId, route, ct);
    }

    public async Task<ModelRoute> RouteAsync(TenantWork work, ModelChoice choice, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(choice);
        if (choice.ProviderId is not { } providerId)
        {
            return new ModelRoute(choice, null, null, ModelPrice.Free, null);
        }
        if (string.IsNullOrWhiteSpace(choice.Model))
        {
            return new ModelRoute(choice, null, null, ModelPrice.Free, new ModelRouteProblem("Choose a model for this provider.", 400));
        }
        var provider = await work.Db.ModelProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId, ct);
        if (provider is null)
        {
            return new ModelRoute(choice, null, null, ModelPrice.Free,
                new ModelRouteProblem("This model provider does not exist (any more). Choose another one for the agent.", 404));
        }
        var offered = await work.Db.ProviderModels.AsNoTracking().FirstOrDefaultAsync(m => m.ProviderId == providerId && m.ModelId == choice.Model, ct);
        if (offered is null)
        {
            return new ModelRoute(choice, provider, null, ModelPrice.Free, new ModelRouteProblem(
                $"{provider.Name} does not offer the model \"{choice.Model}\" here. An Admin can add it under Settings → Models.", 400));
        }
        return new ModelRoute(choice, provider, offered, new ModelPrice(offered.InputUsdPerMillion, offered.OutputUsdPerMillion), null);
    }

    public async Task<ModelConnection> ConnectAsync(Guid organizationId, ModelRoute route, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (route.Problem is { } problem)
        {
            throw new ProviderRuleException(problem.Message, problem.StatusCode);
        }
        if (route.IsOffline)
        {
            return Offline();
        }
        var provider = route.Provider!;
        var offered = route.Offered!;
        var client = await cache.GetOrAddAsync(organizationId, provider, offered.ModelId, async token =>
        {
            var key = await OpenKeyAsync(organizationId, provider, vault, token);
            return connector.ChatClient(new ProviderEndpoint(provider.Name, provider.Kind, provider.BaseUrl, key), offered.ModelId);
        }, ct);
        return new ModelConnection(client, provider.Name, offered.ModelId, false, route.Price);
    }

    private static ModelConnection Offline() =>
        new(new OfflineChatClient(), OfflineChatClient.Label, OfflineChatClient.ModelId, true, ModelPrice.Free);

    /// <summary>The provider's key, opened outside any unit of work; <see cref="NoKey"/> when none is set.</summary>
    internal static async Task<string> OpenKeyAsync(Guid organizationId, ModelProvider provider, ISecretVault vault, CancellationToken ct)
    {
        if (provider.ApiKeyCiphertext is null || provider.ApiKeyVersion is not { } version)
        {
            return NoKey;
        }
        try
        {
            return await vault.OpenAsync(organizationId, SecretPurposes.ModelProviderApiKey, provider.Id, new SealedSecret(provider.ApiKeyCiphertext, version), ct);
        }
        catch (VaultException)
        {
            throw new ProviderRuleException($"The API key of {provider.Name} cannot be opened. An Admin can enter it again under Settings → Models.", 409);
        }
    }
}

/// <summary>
/// Built chat clients for a short while, so a turn does not open the vault and build an SDK client before every
/// answer. A client is found only for exactly the provider row it was built from: any change to the provider
/// (key, address, kind, name) changes its <see cref="ModelProvider.UpdatedAt"/> and ciphertext and so misses.
/// The plaintext key inside a client is one the organization's <see cref="TenantSecrets"/> holds anyway; once the
/// organization is deleted no route to its clients can be read, and they expire within <see cref="Lifetime"/>.
/// </summary>
public sealed class ModelClientCache(TimeProvider clock)
{
    /// <summary>Short: an HTTP handler behind a client is rotated by the factory every two minutes.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    public const int MaxEntries = 1000;

    private readonly ConcurrentDictionary<string, (Microsoft.Extensions.AI.IChatClient Client, DateTimeOffset Expires)> _clients = new(StringComparer.Ordinal);

    internal async Task<Microsoft.Extensions.AI.IChatClient> GetOrAddAsync(Guid organizationId, ModelProvider provider, string model,
        Func<CancellationToken, Task<Microsoft.Extensions.AI.IChatClient>> build, CancellationToken ct)
    {
        var key = provider.Fingerprint(organizationId, model);
        var now = clock.GetUtcNow();
        if (_clients.TryGetValue(key, out var found) && found.Expires > now)
        {
            return found.Client;
        }
        var client = await build(ct);
        if (_clients.Count >= MaxEntries)
        {
            foreach (var (k, v) in _clients)
            {
                if (v.Expires <= now)
                {
                    _clients.TryRemove(k, out _);
                }
            }
        }
        if (_clients.Count < MaxEntries)
        {
            _clients[key] = (client, now + Lifetime);
        }
        return client;
    }
}
