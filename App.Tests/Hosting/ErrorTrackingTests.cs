using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using AgentSpace.Hosting;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentSpace.Tests.Hosting;

/// <summary>
/// The app with Sentry on, reporting to a real HTTP endpoint in the test: an exception thrown while handling a
/// request full of secrets reaches Sentry, and none of the secrets do.
/// </summary>
public sealed class ErrorTrackingTests(ErrorTrackingTests.SentryApp app) : IClassFixture<ErrorTrackingTests.SentryApp>
{
    public const string ThrowPath = "/test/throw";

    /// <summary>What an attacker would look for in the error tracker: every value is unique to this run.</summary>
    public static class Canary
    {
        private static string New(string what) => $"canary-{what}-{Guid.NewGuid():N}";

        public static readonly string Cookie = New("cookie");
        public static readonly string AppCookie = New("app-cookie");
        public static readonly string Authorization = New("authorization");
        public static readonly string ApiKey = New("api-key");
        public static readonly string QueryToken = New("query-token");
        public static readonly string QueryPlain = New("query-plain");
        public static readonly string FormPassword = New("form-password");
        public static readonly string FormPlain = New("form-plain");
        // A credential the vault holds: it turns up in an exception message, a log line and a harmless-looking header.
        public static readonly string Vault = New("vault");

        public static IEnumerable<string> All => [Cookie, AppCookie, Authorization, ApiKey, QueryToken, QueryPlain, FormPassword, FormPlain, Vault];
    }

    /// <summary>A stand-in for Sentry's ingestion endpoint: keeps every envelope posted to it, decompressed.</summary>
    public sealed class SentryReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<string> _envelopes = new();

        private SentryReceiver(WebApplication app) => _app = app;

        public IReadOnlyCollection<string> Envelopes => _envelopes;

        public Uri BaseUrl => new(_app.Urls.Single());

        public static async Task<SentryReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var receiver = new SentryReceiver(app);
            app.Run(async context =>
            {
                Stream body = context.Request.Body;
                if (context.Request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
                {
                    body = new GZipStream(body, CompressionMode.Decompress);
                }
                using var reader = new StreamReader(body, Encoding.UTF8);
                receiver._envelopes.Enqueue(await reader.ReadToEndAsync());
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync($$"""{"id":"{{Guid.NewGuid():N}}"}""");
            });
            await app.StartAsync();
            return receiver;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    /// <summary>The whole app over Kestrel with <c>Sentry:Dsn</c> pointing at the receiver, and one request path that fails.</summary>
    public sealed class SentryApp : WebAppFactory
    {
        public SentryApp()
        {
            // Listening before the app is built: the DSN names its port.
            Receiver = SentryReceiver.StartAsync().GetAwaiter().GetResult();
            UseKestrel(0);
        }

        public SentryReceiver Receiver { get; }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await Receiver.DisposeAsync();
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Sentry:Dsn", $"http://public@{Receiver.BaseUrl.Authority}/1");
            // Settings an operator might try: the app forces them off.
            builder.UseSetting("Sentry:SendDefaultPii", "true");
            builder.UseSetting("Sentry:MaxRequestBodySize", "Always");
            // Test code only: the app itself has no endpoint that throws on demand.
            builder.ConfigureTestServices(services => services.AddTransient<IStartupFilter, ThrowingRequest>());
        }
    }

    /// <summary>A request handler that reads its form, logs what it is doing, and fails with a message naming a vault credential.</summary>
    private sealed class ThrowingRequest(ILogger<ThrowingRequest> logger) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (!context.Request.Path.Equals(ThrowPath, StringComparison.Ordinal))
                {
                    await nextMiddleware(context);
                    return;
                }
                var form = await context.Request.ReadFormAsync();
                logger.LogWarning("Calling the provider for {Note}", form["note"].ToString());
                logger.LogError("Provider refused credential {Detail}", Canary.Vault);
                throw new InvalidOperationException($"Provider refused credential {Canary.Vault}");
            });
            next(app);
        };
    }

    [Fact]
    public async Task UnhandledException_RequestCarryingSecrets_ReachesSentryWithoutThem()
    {
        app.Services.GetRequiredService<SecretValues>().Add(Canary.Vault);
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ThrowPath}?token={Canary.QueryToken}&q={Canary.QueryPlain}")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = Canary.FormPassword, ["note"] = Canary.FormPlain }),
        };
        request.Headers.Add("Cookie", $"theme={Canary.Cookie}; __Host-agentspace={Canary.AppCookie}");
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {Canary.Authorization}");
        request.Headers.Add("X-Api-Key", Canary.ApiKey);
        request.Headers.Add("X-Request-Note", $"retry with {Canary.Vault}");

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        // Both events: the unhandled exception, and the error logged just before it.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (EventsReceived() < 2 && DateTime.UtcNow < deadline)
        {
            await Sentry.SentrySdk.FlushAsync(TimeSpan.FromSeconds(2));
            await Task.Delay(100);
        }
        var received = string.Join("\n", app.Receiver.Envelopes);
        Assert.True(EventsReceived() >= 2, "Sentry received fewer than 2 events:\n" + received);

        // Still useful: what failed and where.
        Assert.Contains("System.InvalidOperationException", received, StringComparison.Ordinal);
        Assert.Contains("Provider refused credential", received, StringComparison.Ordinal);
        Assert.Contains(ThrowPath, received, StringComparison.Ordinal);
        foreach (var canary in Canary.All)
        {
            Assert.DoesNotContain(canary, received, StringComparison.Ordinal);
        }
    }

    private int EventsReceived() => app.Receiver.Envelopes.Sum(e => CountOf(e, "\"type\":\"event\""));

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
