using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Models;
using AgentSpace.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace AgentSpace.Providers;

/// <summary>Where to reach one provider and how to sign in to it; the key is already opened from the vault.</summary>
public sealed record ProviderEndpoint(string Name, ModelProviderKind Kind, string BaseUrl, string ApiKey);

/// <summary>
/// Builds the SDK clients for a provider over the resilient <see cref="ModelHttp"/> client, with the SDKs' own
/// retries off, and talks to a provider directly (list models, test the connection). No tenant state here:
/// callers read the provider and open its key first, outside any unit of work.
/// </summary>
public sealed class ProviderConnector(IHttpClientFactory httpFactory, IOptions<ModelsOptions> options, SecretValues secrets)
{
    /// <summary>The most model ids taken from a provider's list (a page cannot offer more, and a hostile list could be endless).</summary>
    public const int MaxListedModels = 2000;

    internal IChatClient ChatClient(ProviderEndpoint endpoint, string model)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        IChatClient client = endpoint.Kind switch
        {
            ModelProviderKind.OpenAICompatible => OpenAI(endpoint).GetChatClient(model).AsIChatClient(),
            ModelProviderKind.Anthropic => Anthropic(endpoint).AsIChatClient(model),
            _ => throw new ProviderRuleException("This kind of provider is not supported."),
        };
        return new ProviderErrorChatClient(client, endpoint.Name, text => Redact(text, endpoint.ApiKey));
    }

    /// <summary>An embedding generator for an OpenAI-compatible provider (Ollama and most local servers speak it too).</summary>
    internal IEmbeddingGenerator<string, Embedding<float>> EmbeddingGenerator(ProviderEndpoint endpoint, string model)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return endpoint.Kind == ModelProviderKind.OpenAICompatible
            ? OpenAI(endpoint).GetEmbeddingClient(model).AsIEmbeddingGenerator()
            : throw new ProviderRuleException($"{endpoint.Name} offers no embeddings here; choose an OpenAI-compatible provider or the built-in embedder.");
    }

    /// <summary>
    /// The model ids the provider lists, at most <see cref="MaxListedModels"/> (the first in order). Throws
    /// <see cref="ModelCallException"/> with the provider's words when it refuses.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListModelsAsync(ProviderEndpoint endpoint, CancellationToken ct) =>
        (await ListAsync(endpoint, ct)).Ids;

    private sealed record ModelList(IReadOnlyList<string> Ids, bool Capped);

    private async Task<ModelList> ListAsync(ProviderEndpoint endpoint, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        try
        {
            var ids = new List<string>();
            if (endpoint.Kind == ModelProviderKind.Anthropic)
            {
                using var client = Anthropic(endpoint);
                var page = await client.Models.List(new ModelListParams { Limit = 1000 }, ct);
                ids.AddRange(page.Items.Select(m => m.ID));
                while (page.HasNext() && ids.Count <= MaxListedModels)
                {
                    page = await page.Next(ct);
                    ids.AddRange(page.Items.Select(m => m.ID));
                }
            }
            else
            {
                var models = await OpenAI(endpoint).GetOpenAIModelClient().GetModelsAsync(ct);
                ids.AddRange(models.Value.Select(m => m.Id));
            }
            var distinct = ids.Where(id => !string.IsNullOrWhiteSpace(id)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            return new ModelList([.. distinct.Take(MaxListedModels)], distinct.Count > MaxListedModels);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ProviderErrors.Describe(ex, endpoint.Name, t => Redact(t, endpoint.ApiKey)) is { } described)
        {
            if (described.ProviderStatus is 404 or 405)
            {
                throw new ModelCallException(
                    $"{endpoint.Name} does not list its models ({described.Message}). Add the model ids by hand.", described.ProviderStatus, ex);
            }
            throw described;
        }
    }

    /// <summary>
    /// A real, minimal call: the model list, or (for a provider that does not list models) a one-token answer from
    /// <paramref name="fallbackModel"/>. Never throws for a provider failure: the result carries the provider's words.
    /// </summary>
    public async Task<ConnectionTestResult> TestAsync(ProviderEndpoint endpoint, string? fallbackModel, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        try
        {
            var models = await ListAsync(endpoint, ct);
            return new ConnectionTestResult(true, models.Capped
                ? string.Create(CultureInfo.InvariantCulture, $"Connected to {endpoint.Name}: it lists more than {MaxListedModels:N0} models; only the first {MaxListedModels:N0} (in name order) are offered.")
                : $"Connected to {endpoint.Name}: it lists {models.Ids.Count} model{(models.Ids.Count == 1 ? "" : "s")}.");
        }
        catch (ModelCallException listing) when (listing.ProviderStatus is 404 or 405 && fallbackModel is not null)
        {
            try
            {
                using var client = ChatClient(endpoint, fallbackModel);
                await client.GetResponseAsync("Reply with one word.", new ChatOptions { MaxOutputTokens = 1 }, ct);
                return new ConnectionTestResult(true, $"Connected to {endpoint.Name}: {fallbackModel} answered.");
            }
            catch (ModelCallException failed)
            {
                return new ConnectionTestResult(false, failed.Message);
            }
        }
        catch (ModelCallException failed)
        {
            return new ConnectionTestResult(false, failed.Message);
        }
    }

    private OpenAIClient OpenAI(ProviderEndpoint endpoint) =>
        new(new ApiKeyCredential(endpoint.ApiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(endpoint.BaseUrl),
            Transport = new HttpClientPipelineTransport(httpFactory.CreateClient(ModelHttp.ClientName)),
            // One retry policy: the HTTP client's. ClientModel's own would retry each of its retries.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // ClientModel applies this to the whole send (every attempt and Retry-After wait of the HTTP pipeline)
            // and then to each read of a stream: the total budget, so the pipeline's own timeouts decide the first,
            // and a stream is cut only after that long without a single piece.
            NetworkTimeout = options.Value.TotalTimeout,
        });

    private AnthropicClient Anthropic(ProviderEndpoint endpoint) =>
        new(new ClientOptions
        {
            ApiKey = endpoint.ApiKey,
            BaseUrl = endpoint.BaseUrl,
            HttpClient = httpFactory.CreateClient(ModelHttp.ClientName),
            MaxRetries = 0,
        });

    private string Redact(string text, string apiKey) =>
        secrets.Redact(apiKey.Length >= 6 ? text.Replace(apiKey, SecretValues.Placeholder, StringComparison.Ordinal) : text);
}

/// <summary>What "Test connection" shows: success, or the provider's own error text.</summary>
public sealed record ConnectionTestResult(bool Succeeded, string Message);
