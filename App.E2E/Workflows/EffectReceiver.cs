using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentSpace.E2E.Workflows;

/// <summary>One request as it reached the receiver.</summary>
public sealed record ReceivedEffect(string Path, string? IdempotencyKey, string Body, DateTimeOffset At);

/// <summary>
/// A receiver of workflow HTTP effects on 127.0.0.1, as a careful real one behaves: it records every request that
/// reaches it (raw deliveries) and applies each idempotency key once, answering a repeat as it answered the first.
/// The first request to a <c>/slow…</c> path is answered only after <see cref="FirstSlowFor"/> (long enough that the node
/// sending it is surely stopped while it waits, however loaded the machine), later ones after <see cref="SlowFor"/>.
/// </summary>
public sealed class EffectReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedEffect> _received = new();
    private readonly ConcurrentDictionary<string, int> _applied = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _slowReached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EffectReceiver(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public TimeSpan SlowFor { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan FirstSlowFor { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Every request that reached the receiver, in order, repeats included.</summary>
    public IReadOnlyList<ReceivedEffect> Received => [.. _received];

    /// <summary>Completes when the first request to a <c>/slow</c> path has arrived (before it is answered).</summary>
    public Task SlowReached => _slowReached.Task;

    public static async Task<EffectReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new EffectReceiver(app);
        app.Map("/{**path}", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync();
            string? key = http.Request.Headers["Idempotency-Key"];
            var path = http.Request.Path.Value ?? "";
            receiver._received.Enqueue(new ReceivedEffect(path, key, body, DateTimeOffset.UtcNow));
            var first = key is null || receiver._applied.TryAdd(key, receiver._applied.Count);
            if (path.StartsWith("/slow", StringComparison.Ordinal))
            {
                var firstSlow = receiver._slowReached.TrySetResult();
                try
                {
                    await Task.Delay(firstSlow ? receiver.FirstSlowFor : receiver.SlowFor, http.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    // The sender went away (killed) before the answer: nothing to answer.
                    return;
                }
            }
            http.Response.StatusCode = 200;
            await http.Response.WriteAsync(first ? "applied" : "already applied");
        });
        await app.StartAsync();
        receiver.BaseUrl = app.Urls.Single().TrimEnd('/');
        return receiver;
    }

    /// <summary>Requests that reached the receiver with <paramref name="key"/>, repeats included.</summary>
    public int RawCount(string key) => _received.Count(r => r.IdempotencyKey == key);

    /// <summary>How many distinct keys reached the receiver among requests whose key starts with <paramref name="prefix"/>.</summary>
    public int DistinctKeys(string prefix) => _received.Where(r => r.IdempotencyKey?.StartsWith(prefix, StringComparison.Ordinal) == true)
        .Select(r => r.IdempotencyKey).Distinct(StringComparer.Ordinal).Count();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
