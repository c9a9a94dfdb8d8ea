using System.Collections.Concurrent;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;

namespace AgentSpace.Knowledge;

/// <summary>An organization's embedder, ready to call (it may make HTTP calls: never inside a unit of work).</summary>
public sealed record KnowledgeEmbedder(string Id, int Dimensions, IEmbeddingGenerator<string, Embedding<float>> Generator, bool IsLocal);

public interface IKnowledgeEmbedders
{
    /// <summary>The embedder the organization's knowledge settings choose (the built-in one when none is set).</summary>
    Task<KnowledgeEmbedder> ForOrganizationAsync(Guid organizationId, CancellationToken ct);
}

/// <summary>
/// The built-in <see cref="LocalEmbedder"/>, or a provider's embedding model (OpenAI-compatible <c>/embeddings</c>,
/// which Ollama serves too) with its key from the vault and its dimension learned from one probe call, kept per exact
/// provider row and model for the process's life.
/// </summary>
public sealed class KnowledgeEmbedders(TenantOperation operations, ISecretVault vault, ProviderConnector connector) : IKnowledgeEmbedders
{
    private static readonly ConcurrentDictionary<string, KnowledgeEmbedder> Providers = new(StringComparer.Ordinal);

    public static KnowledgeEmbedder Local { get; } = new(LocalEmbedder.Id, LocalEmbedder.Dimensions, new LocalEmbedder(), true);

    /// <summary>The id the settings' embedder gives its vectors (known without calling it).</summary>
    public static string IdFor(KnowledgeSettings? settings) =>
        settings?.EmbeddingProviderId is { } providerId ? $"provider:{providerId:N}:{settings.EmbeddingModel}" : LocalEmbedder.Id;

    public async Task<KnowledgeEmbedder> ForOrganizationAsync(Guid organizationId, CancellationToken ct)
    {
        var (settings, provider) = await operations.RunAsSystemAsync(organizationId, "knowledge embedder", async (work, token) =>
        {
            var s = await work.Db.KnowledgeSettings.AsNoTracking().FirstOrDefaultAsync(x => x.Id == KnowledgeSettings.SingletonId, token);
            var p = s?.EmbeddingProviderId is { } id ? await work.Db.ModelProviders.AsNoTracking().FirstOrDefaultAsync(x => x.Id == id, token) : null;
            return (s, p);
        }, ct);
        return await FromAsync(organizationId, settings, provider, ct);
    }

    /// <summary>The embedder for settings already read (in a unit of work that has ended).</summary>
    public async Task<KnowledgeEmbedder> FromAsync(Guid organizationId, KnowledgeSettings? settings, ModelProvider? provider, CancellationToken ct)
    {
        if (settings?.EmbeddingProviderId is null)
        {
            return Local;
        }
        if (provider is null)
        {
            throw new KnowledgeRuleException("The embedding provider chosen on the Knowledge page no longer exists. An Admin can choose another.", 409);
        }
        var model = settings.EmbeddingModel ?? provider.EmbeddingModel;
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new KnowledgeRuleException($"No embedding model is set for {provider.Name}. An Admin can choose one on the Knowledge page.", 409);
        }
        var cacheKey = provider.Fingerprint(organizationId, model);
        if (Providers.TryGetValue(cacheKey, out var known))
        {
            return known;
        }
        var key = await ModelGateway.OpenKeyAsync(organizationId, provider, vault, ct);
        var generator = connector.EmbeddingGenerator(new ProviderEndpoint(provider.Name, provider.Kind, provider.BaseUrl, key), model);
        int dimensions;
        try
        {
            var probe = await generator.GenerateAsync(["dimension probe"], cancellationToken: ct);
            dimensions = probe[0].Vector.Length;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && ex is not Hosting.UserFacingException)
        {
            throw new KnowledgeRuleException($"{provider.Name} did not return an embedding for {model}: {ProviderErrors.Describe(ex, provider.Name, t => key.Length >= 6 ? t.Replace(key, Hosting.SecretValues.Placeholder, StringComparison.Ordinal) : t)?.Message ?? ex.GetType().Name}", 502);
        }
        if (dimensions is < 8 or > 16_000)
        {
            throw new KnowledgeRuleException($"{provider.Name} returned embeddings of {dimensions} dimensions; 8 to 16,000 are supported.", 502);
        }
        var embedder = new KnowledgeEmbedder(IdFor(settings) is var id && settings.EmbeddingModel is not null ? id : $"provider:{provider.Id:N}:{model}", dimensions, generator, false);
        Providers[cacheKey] = embedder;
        return embedder;
    }
}
