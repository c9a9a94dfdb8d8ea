using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace AgentSpace.Hosting;

/// <summary>
/// <c>/health/live</c>: the process answers (no dependency, so a database outage does not get the app restarted).
/// <c>/health/ready</c>: the database answers too. Both anonymous; the body is only the status word
/// (Healthy / Unhealthy), never exception text or host names.
/// </summary>
public static class Health
{
    private const string ReadyTag = "ready";

    public static IServiceCollection AddHealthEndpoints(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", HealthStatus.Unhealthy, [ReadyTag], TimeSpan.FromSeconds(5));
        return services;
    }

    // Probes read; nothing else is answered (a POST is a 405, not a health answer).
    private static readonly HttpMethodMetadata ProbeMethods = new([HttpMethods.Get, HttpMethods.Head]);

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous().WithMetadata(ProbeMethods);
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) }).AllowAnonymous().WithMetadata(ProbeMethods);
        return endpoints;
    }

    /// <summary>A real <c>select 1</c> through the app's own data source: same connection string, pool and credentials as every request.</summary>
    private sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var command = dataSource.CreateCommand("select 1");
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // Logged for the operator; the probe's answer stays one word.
                logger.LogWarning(ex, "Readiness: the database did not answer");
                return HealthCheckResult.Unhealthy("database unreachable");
            }
        }
    }
}
