using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentSpace.Tests.Workflows;

/// <summary>One HTTP request the sink received.</summary>
public sealed record SinkRequest(string Method, string Path, string? IdempotencyKey, string? ContentType, string Body);

/// <summary>
/// A receiver of workflow HTTP effects on 127.0.0.1: records every request it gets (with its Idempotency-Key) and
/// answers with <see cref="StatusCode"/>. Reachable only because the test allows 127.0.0.1/32 for workflow requests.
/// </summary>
public sealed class EffectSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SinkRequest> _received = new();

    private EffectSink(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public int StatusCode { get; set; } = 200;

    public IReadOnlyList<SinkRequest> Received => [.. _received];

    public static async Task<EffectSink> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var sink = new EffectSink(app);
        app.Map("/{**path}", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync();
            sink._received.Enqueue(new SinkRequest(http.Request.Method, http.Request.Path, http.Request.Headers["Idempotency-Key"], http.Request.ContentType, body));
            http.Response.StatusCode = sink.StatusCode;
            await http.Response.WriteAsync("received " + body.Length);
        });
        await app.StartAsync();
        sink.BaseUrl = app.Urls.Single().TrimEnd('/');
        return sink;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
