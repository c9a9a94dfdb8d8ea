using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace AgentSpace.Providers;

/// <summary>
/// The one HTTP client both SDKs (OpenAI and Anthropic) send through, with the one retry policy: the SDKs' own
/// retries are switched off where the clients are built (<see cref="ProviderConnector"/>). Like every
/// <c>IHttpClientFactory</c> client it refuses to send from inside a tenant unit of work (SlowCallGuardHandler).
/// </summary>
internal static class ModelHttp
{
    public const string ClientName = "model-providers";

    public static IServiceCollection AddModelHttp(this IServiceCollection services)
    {
        services.AddOptions<ModelsOptions>()
            .BindConfiguration(ModelsOptions.Section)
            .Validate(o => o.Timeout > TimeSpan.Zero && o.TotalTimeout >= o.Timeout, "Models:Timeout must be positive and Models:TotalTimeout at least as long.")
            .Validate(o => o.Retries is >= 0 and <= 10, "Models:Retries must be between 0 and 10.")
            .Validate(o => o.RetryDelay > TimeSpan.Zero && o.MaxRetryAfter >= TimeSpan.Zero, "Models:RetryDelay must be positive and Models:MaxRetryAfter not negative.")
            .ValidateOnStart();
        services.AddHttpClient(ClientName, http =>
            {
                // The pipeline below owns every timeout. HttpClient's own 100 s would also cover a buffered body.
                http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
            })
            .AddResilienceHandler("model-calls", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<ModelsOptions>>().Value;
                // Waits happen on the network's clock: a test's fake clock must not freeze a retry or a timeout.
                pipeline.TimeProvider = TimeProvider.System;
                Configure(pipeline, options);
            });
        return services;
    }

    /// <summary>
    /// Outermost first: total timeout, retry, attempt timeout. The timeouts cover <c>SendAsync</c>, which both
    /// SDKs call with <c>ResponseHeadersRead</c> for streams: they end when the answer starts, so a stream that is
    /// still arriving is never cut by them (its pace is bounded by the SDK's read timeout instead).
    /// </summary>
    internal static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, ModelsOptions options)
    {
        pipeline.AddTimeout(new HttpTimeoutStrategyOptions { Name = "total", Timeout = options.TotalTimeout });
        if (options.Retries > 0)
        {
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                Name = "retry",
                MaxRetryAttempts = options.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                ShouldRetryAfterHeader = true,
                // 408, 429, 5xx, network errors and attempt timeouts; not a Retry-After beyond the cap (waiting
                // less than the provider asked would only earn another 429).
                ShouldHandle = args => ValueTask.FromResult(
                    HttpClientResiliencePredicates.IsTransient(args.Outcome)
                    && !(RetryAfter(args.Outcome.Result) > options.MaxRetryAfter)),
            });
        }
        pipeline.AddTimeout(new HttpTimeoutStrategyOptions { Name = "attempt", Timeout = options.Timeout });
    }

    /// <summary>The wait a response asks for in <c>Retry-After</c> (seconds or a date), if any.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage? response)
    {
        var header = response?.Headers.RetryAfter;
        return header switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
    }

}
