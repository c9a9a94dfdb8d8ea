using AgentSpace.Tenancy;
using Microsoft.Extensions.AI;

namespace AgentSpace.Providers;

/// <summary>Which model an agent (or any caller) wants: a provider of the organization and a model id, or neither for Offline.</summary>
public sealed record ModelChoice(Guid? ProviderId, string? Model)
{
    public static ModelChoice Offline { get; } = new(null, null);
}

/// <summary>USD per million tokens.</summary>
public sealed record ModelPrice(decimal InputUsdPerMillion, decimal OutputUsdPerMillion)
{
    public static ModelPrice Free { get; } = new(0, 0);

    public decimal CostOf(long inputTokens, long outputTokens) =>
        (inputTokens * InputUsdPerMillion + outputTokens * OutputUsdPerMillion) / 1_000_000m;
}

/// <summary>
/// A ready chat client for one call path. <see cref="Label"/> is what the UI shows as the answerer
/// ("Offline" for the built-in provider). Opened outside any tenant unit of work; the client makes
/// network calls.
/// </summary>
public sealed record ModelConnection(IChatClient Client, string Label, string Model, bool IsOffline, ModelPrice Price);

/// <summary>
/// What a connection needs from the tenant's rows (the provider and the offered model with its price), read in
/// the caller's unit of work; <see cref="Problem"/> says why no connection can be made, raised only when connecting
/// so the caller can record it as that call's failure.
/// </summary>
public sealed record ModelRoute(ModelChoice Choice, ModelProvider? Provider, ProviderModel? Offered, ModelPrice Price, ModelRouteProblem? Problem)
{
    public bool IsOffline => Choice.ProviderId is null;
}

/// <summary>Why a route leads nowhere: the message for the person and its HTTP status.</summary>
public sealed record ModelRouteProblem(string Message, int StatusCode);

/// <summary>Builds chat clients from an organization's configured providers (API keys opened from the vault).</summary>
public interface IModelGateway
{
    /// <summary>Reads the provider and model of <paramref name="choice"/> inside the caller's unit of work (no network, no vault).</summary>
    Task<ModelRoute> RouteAsync(TenantWork work, ModelChoice choice, CancellationToken ct);

    /// <summary>
    /// Opens the route's key and builds its client, outside any unit of work. Throws the route's problem, or
    /// <see cref="Hosting.UserFacingException"/> when the key does not open.
    /// </summary>
    Task<ModelConnection> ConnectAsync(Guid organizationId, ModelRoute route, CancellationToken ct);

    /// <summary>
    /// Throws <see cref="Hosting.UserFacingException"/> when the provider is gone or its key does not open.
    /// Never call inside a tenant unit of work.
    /// </summary>
    Task<ModelConnection> ConnectAsync(Guid organizationId, ModelChoice choice, CancellationToken ct);
}
