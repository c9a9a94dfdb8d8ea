using System.Net;
using System.Net.Sockets;
using System.Text;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Providers;

/// <summary>
/// What the model-providers HTTP client does with a provider that is hostile or broken: no redirects followed, no
/// connection to a metadata address whatever the name resolves to, no unbounded lists or bodies; streams still flow.
/// </summary>
public sealed class ProviderHttpTests(ProvidersFixture data) : IClassFixture<ProvidersFixture>, IAsyncLifetime
{
    private RecordingModelServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingModelServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private HttpClient Client() => data.Services.GetRequiredService<IHttpClientFactory>().CreateClient(ModelHttp.ClientName);

    [Fact]
    public async Task TestConnection_ProviderRedirectsToAnInternalService_RedirectIsNotFollowedAndNothingOfItShown()
    {
        using var internalService = Serve(c =>
        {
            c.Response.StatusCode = 403;
            c.Response.OutputStream.Write(Encoding.UTF8.GetBytes("{\"message\":\"INTERNAL-ONLY: AccessKeyId=AKIAEXAMPLE\"}"));
        });
        using var hostile = Serve(c =>
        {
            c.Response.StatusCode = 302;
            c.Response.RedirectLocation = internalService.Url + "latest/meta-data/iam/security-credentials/role";
            c.Response.OutputStream.Write(Encoding.UTF8.GetBytes("{\"error\":{\"message\":\"REDIRECT-BODY\"}}"));
        });
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.WithAsync<ProviderService, Guid>(s => s.CreateAsync(org.Owner, org.Org.Slug,
            new ProviderInput("Hostile", ModelProviderKind.OpenAICompatible, hostile.Url + "v1"), "sk-whatever-123", default));

        var result = await data.WithAsync<ProviderService, ConnectionTestResult>(s => s.TestConnectionAsync(org.Owner, org.Org.Slug, id, default));

        Assert.False(result.Succeeded);
        Assert.Equal("Hostile answered 302 Found: The provider answered with a redirect, which is not followed. Check the base URL.", result.Message);
        Assert.Equal(0, internalService.Hits);
    }

    [Fact]
    public async Task Send_RedirectToLoopback_IsNotFollowed()
    {
        using var target = Serve(c => c.Response.StatusCode = 200);
        using var redirecting = Serve(c =>
        {
            c.Response.StatusCode = 307;
            c.Response.RedirectLocation = target.Url + "v1/models";
        });

        using var response = await Client().GetAsync(new Uri(redirecting.Url + "v1/models"));

        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Equal(0, target.Hits);
    }

    [Fact]
    public async Task Send_LinkLocalAddress_IsRefusedBeforeConnecting()
    {
        var error = await Assert.ThrowsAnyAsync<HttpRequestException>(() => Client().GetAsync(new Uri("http://169.254.169.254/latest/meta-data/")));

        var refused = Assert.IsType<ProviderAddressRefusedException>(error.InnerException);
        Assert.Contains("169.254.169.254", refused.Message, StringComparison.Ordinal);
        Assert.Contains("not allowed for a model provider", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("fd00:ec2::254")]
    [InlineData("::ffff:169.254.169.254")]
    public async Task Connect_NameResolvingToAMetadataAddress_IsRefused(string resolved)
    {
        // DNS decides, not the URL: a harmless-looking name (or one that changes its answer) must not reach it.
        var addresses = new[] { IPAddress.Parse("10.0.0.8"), IPAddress.Parse(resolved) };

        var error = await Assert.ThrowsAsync<ProviderAddressRefusedException>(async () =>
            await ProviderAddress.ConnectAsync(new DnsEndPoint("models.attacker.test", 80), (_, _) => Task.FromResult(addresses), default));

        Assert.Contains("models.attacker.test", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_NameResolvingToLoopback_Connects()
    {
        var port = new Uri(_server.BaseUrl).Port;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://localhost:{port}/v1/models");
        request.Headers.Authorization = new("Bearer", _server.ApiKey);

        using var response = await Client().SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task FetchModels_ProviderListsThousands_FirstTwoThousandAreOfferedAndTestConnectionSaysSo()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);
        _server.ModelIds = [.. Enumerable.Range(0, 5000).Select(i => $"model-{i:D5}")];

        var models = await data.WithAsync<ProviderService, IReadOnlyList<string>>(s => s.FetchModelsAsync(org.Owner, org.Org.Slug, id, default));
        var test = await data.WithAsync<ProviderService, ConnectionTestResult>(s => s.TestConnectionAsync(org.Owner, org.Org.Slug, id, default));

        Assert.Equal(ProviderConnector.MaxListedModels, models.Count);
        Assert.Equal("model-00000", models[0]);
        Assert.Equal("model-01999", models[^1]);
        Assert.True(test.Succeeded, test.Message);
        Assert.Equal("Connected to Recording: it lists more than 2,000 models; only the first 2,000 (in name order) are offered.", test.Message);
    }

    [Fact]
    public async Task FetchModels_BodyLargerThanTheCap_FailsWithAClearMessage()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);
        // About 6 MB of JSON: more than the 4 MB read from a provider in one piece.
        _server.ModelIds = [.. Enumerable.Range(0, 40_000).Select(i => $"model-{i:D6}-" + new string('x', 60))];

        var error = await Assert.ThrowsAsync<ModelCallException>(() =>
            data.WithAsync<ProviderService, IReadOnlyList<string>>(s => s.FetchModelsAsync(org.Owner, org.Org.Slug, id, default)));

        Assert.Contains("larger than 4 MB", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_StreamLargerThanTheBodyCap_IsReadToTheEnd()
    {
        var text = new string('a', 5 * 1024 * 1024);
        _server.Enqueue(new ScriptedReply { Text = text, Chunks = 64 });
        using var request = new HttpRequestMessage(HttpMethod.Post, _server.BaseUrl + "/chat/completions")
        {
            Content = new StringContent("""{"model":"scripted-small","stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", _server.ApiKey);

        using var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(body.Length > text.Length, $"read {body.Length} characters");
        Assert.EndsWith("[DONE]", body.TrimEnd(), StringComparison.Ordinal);
    }

    private static LoopbackServer Serve(Action<HttpListenerContext> handle) => new(handle);

    /// <summary>A bare HTTP server on 127.0.0.1 answering every request with <c>handle</c>.</summary>
    private sealed class LoopbackServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private int _hits;

        public LoopbackServer(Action<HttpListenerContext> handle)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                    {
                        return;
                    }
                    Interlocked.Increment(ref _hits);
                    handle(context);
                    context.Response.Close();
                }
            });
        }

        public string Url { get; }
        public int Hits => Volatile.Read(ref _hits);

        public void Dispose() => _listener.Close();
    }
}
