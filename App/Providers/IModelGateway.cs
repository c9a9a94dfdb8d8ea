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

/// <summary>Builds chat clients from an organization's configured providers (API keys opened from the vault).</summary>
public interface IModelGateway
{
    /// <summary>
    /// Throws <see cref="Hosting.UserFacingException"/> when the provider is gone or its key does not open.
    /// Never call inside a tenant unit of work.
    /// </summary>
    Task<ModelConnection> ConnectAsync(Guid organizationId, ModelChoice choice, CancellationToken ct);
}
