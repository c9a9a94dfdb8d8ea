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

    /// <summary>The largest answer read that is not a stream (a model list, a whole reply, an error body).</summary>
    public const int MaxResponseBytes = 4 * 1024 * 1024;

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
                http.MaxResponseContentBufferSize = MaxResponseBytes;
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // A provider's redirect is not followed: the URL rules were checked on the saved URL only, and a
                // redirect would carry the request (and what the target answers) anywhere.
                AllowAutoRedirect = false,
                ConnectCallback = ProviderAddress.ConnectAsync,
            })
            .AddHttpMessageHandler(() => new ProviderAnswerHandler())
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
                    && args.Outcome.Exception?.InnerException is not ProviderAddressRefusedException
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

/// <summary>
/// What a provider sends back, bounded: a redirect is reported by its status alone (the body of a redirect comes from
/// wherever the provider points and is not the provider's answer), and a body that is not a stream is cut off with an
/// error past <see cref="ModelHttp.MaxResponseBytes"/>. The SDKs read bodies themselves after the headers arrive, so
/// <c>HttpClient.MaxResponseContentBufferSize</c> alone would not bound them. Streams (<c>text/event-stream</c>) are
/// left alone: the chat bounds what it keeps of them.
/// </summary>
internal sealed class ProviderAnswerHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var status = (int)response.StatusCode;
        if (status is >= 300 and < 400)
        {
            response.Content.Dispose();
            response.Content = new StringContent(
                """{"error":{"message":"The provider answered with a redirect, which is not followed. Check the base URL."}}""",
                System.Text.Encoding.UTF8, "application/json");
            response.Headers.Location = null;
            return response;
        }
        if (response.Content.Headers.ContentType?.MediaType is "text/event-stream")
        {
            return response;
        }
        if (response.Content.Headers.ContentLength > ModelHttp.MaxResponseBytes)
        {
            response.Dispose();
            throw TooLarge();
        }
        response.Content = new CappedContent(response.Content);
        return response;
    }

    internal static HttpRequestException TooLarge() =>
        new($"its answer is larger than {ModelHttp.MaxResponseBytes / (1024 * 1024)} MB, the most read from a provider in one piece.");

    private sealed class CappedContent : HttpContent
    {
        private readonly HttpContent _inner;

        public CappedContent(HttpContent inner)
        {
            _inner = inner;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            await (await CreateContentReadStreamAsync()).CopyToAsync(stream);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
            await (await CreateContentReadStreamAsync(cancellationToken)).CopyToAsync(stream, cancellationToken);

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new CappedStream(await _inner.ReadAsStreamAsync(cancellationToken));

        protected override Stream CreateContentReadStream(CancellationToken cancellationToken) =>
            new CappedStream(_inner.ReadAsStream(cancellationToken));

        protected override void SerializeToStream(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
            CreateContentReadStream(cancellationToken).CopyTo(stream);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    private sealed class CappedStream(Stream inner) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        private int Count(int read)
        {
            _read += read;
            return _read > ModelHttp.MaxResponseBytes ? throw TooLarge() : read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
