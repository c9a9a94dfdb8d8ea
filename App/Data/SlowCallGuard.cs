using Microsoft.Extensions.Options;

namespace AgentSpace.Data;

/// <summary>
/// Knows whether the current code runs inside a <see cref="TenantUnitOfWork"/>, and refuses slow calls
/// there. A unit of work holds a pooled connection, a transaction and, once it appends audit, the tenant's
/// audit lock: a model call, an HTTP request, file extraction or email inside it holds all three for as
/// long as the slow call takes. Outbound HTTP through <c>IHttpClientFactory</c> is checked for every client
/// (see <see cref="SlowCallGuardHandler"/>); other slow paths call <see cref="Check"/> first.
/// </summary>
public sealed class SlowCallGuard(IOptions<DatabaseOptions> options, ILogger<SlowCallGuard> logger, IHostEnvironment? environment = null)
{
    private static readonly AsyncLocal<Marker?> Current = new();

    private readonly bool _throw = options.Value.ThrowOnSlowCallInUnitOfWork ?? environment?.IsProduction() != true;

    /// <summary>True while the calling code runs inside a tenant unit of work.</summary>
    public static bool InsideUnitOfWork => Current.Value is { Open: true };

    /// <summary>Throws (or, where configured, logs an error) when <paramref name="what"/> is started inside a unit of work.</summary>
    /// <param name="what">The call, as a sentence subject: "An HTTP request to api.example.com".</param>
    public void Check(string what)
    {
        if (!InsideUnitOfWork)
        {
            return;
        }
        var message = $"{what} was started inside a tenant unit of work. Write the state before the slow call in one unit of work and the result after it in another.";
        if (_throw)
        {
            throw new InvalidOperationException(message);
        }
        logger.LogError("{Message}", message);
    }

    /// <summary>Marks the current async flow as inside a unit of work until the returned scope is disposed.</summary>
    internal static IDisposable Enter()
    {
        // A marker object rather than a bool, so work the unit of work started and left running (a task
        // that outlives it inherits this flow) is no longer counted as inside once the unit has ended.
        var marker = new Marker();
        Current.Value = marker;
        return marker;
    }

    private sealed class Marker : IDisposable
    {
        public bool Open { get; private set; } = true;

        public void Dispose() => Open = false;
    }
}

/// <summary>Runs <see cref="SlowCallGuard.Check"/> in front of every <c>IHttpClientFactory</c> client.</summary>
internal sealed class SlowCallGuardHandler(SlowCallGuard guard) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        guard.Check($"An HTTP request to {request.RequestUri?.Host ?? "an unknown host"}");
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        guard.Check($"An HTTP request to {request.RequestUri?.Host ?? "an unknown host"}");
        return base.Send(request, cancellationToken);
    }
}
