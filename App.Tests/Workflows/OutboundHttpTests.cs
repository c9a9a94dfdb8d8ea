using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using AgentSpace.Data;
using AgentSpace.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSpace.Tests.Workflows;

/// <summary>
/// What a tenant member who writes a workflow step's URL can reach: hosts on the step's allow-list, and never this
/// machine, a private network or a cloud metadata service, whether the URL, a redirect or DNS points there. The sink
/// on 127.0.0.1 is reachable only because these tests open 127.0.0.1/32 as an operator would for a local test sink.
/// Connect attempts are recorded, so "refused" means nothing was connected to.
/// </summary>
public sealed class OutboundHttpTests(OutboundSink sink) : IClassFixture<OutboundSink>, IAsyncLifetime
{
    private static readonly IPAddress Loopback2 = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Metadata = IPAddress.Parse("169.254.169.254");
    private static readonly IPAddress Internal = IPAddress.Parse("10.0.0.5");

    private readonly RecordingNetwork _network = new();
    private readonly List<ServiceProvider> _providers = [];

    public Task InitializeAsync()
    {
        sink.ClearHits();
        _network.Map("sink.test", "127.0.0.1");
        _network.Map("api.sink.test", "127.0.0.1");
        _network.Map("deep.api.sink.test", "127.0.0.1");
        _network.Map("xn--bcher-kva.sink.test", "127.0.0.1");
        _network.Map("other.test", "127.0.0.1");
        _network.Map("internal.example", "10.0.0.5");
        _network.Map("mixed.example", "93.184.216.34", "10.0.0.5");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }
    }

    private Uri Sink(string path, string host = "sink.test") => new($"http://{host}:{sink.Port}{path}");

    private static OutboundRequest Get(Uri url, IReadOnlyDictionary<string, string>? headers = null) =>
        new("GET", url, headers ?? new Dictionary<string, string>(), null);

    /// <summary>The app's own registrations (AddData puts the unit-of-work guard on every client) with the recording network.</summary>
    private ServiceProvider Services(Action<Dictionary<string, string?>>? configure = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = "Host=127.0.0.1;Database=unused",
            ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.1/32",
            ["Workflows:Http:MaxResponseBytes"] = "1024",
        };
        configure?.Invoke(settings);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddData(configuration);
        services.AddOutboundHttp();
        services.AddSingleton<OutboundNetwork>(_network);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        _providers.Add(provider);
        return provider;
    }

    private OutboundHttp Http(Action<Dictionary<string, string?>>? configure = null) => Services(configure).GetRequiredService<OutboundHttp>();

    private IEnumerable<IPAddress> Connected => _network.Connected;

    // Literal addresses

    [Theory]
    [InlineData("http://127.0.0.1/", "a loopback address")]
    [InlineData("http://127.0.0.2/", "a loopback address")]
    [InlineData("http://[::1]/", "a loopback address")]
    [InlineData("http://[::ffff:127.0.0.1]/", "a loopback address")]
    [InlineData("http://[::127.0.0.1]/", "a loopback address")]
    [InlineData("http://[64:ff9b::7f00:1]/", "a loopback address")]
    [InlineData("http://0x7f.0.0.1/", "a loopback address")]
    [InlineData("http://2130706433/", "a loopback address")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "a cloud metadata service address")]
    [InlineData("http://[::ffff:169.254.169.254]/latest/meta-data/", "a cloud metadata service address")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/", "a cloud metadata service address")]
    [InlineData("http://100.100.100.200/latest/meta-data/", "a cloud metadata service address")]
    [InlineData("http://10.0.0.5/", "a private address")]
    [InlineData("http://172.16.0.1/", "a private address")]
    [InlineData("http://192.168.1.1/", "a private address")]
    [InlineData("http://[::ffff:192.168.1.1]/", "a private address")]
    [InlineData("http://100.64.0.1/", "a carrier-grade NAT address")]
    [InlineData("http://[fd00::1]/", "a unique-local address")]
    [InlineData("http://[fe80::1]/", "a link-local address")]
    [InlineData("http://0.0.0.0/", "an unspecified address")]
    [InlineData("http://[::]/", "the unspecified address")]
    [InlineData("http://224.0.0.1/", "a multicast address")]
    [InlineData("http://255.255.255.255/", "the broadcast address")]
    [InlineData("http://198.18.0.1/", "a benchmarking address")]
    public async Task Send_LiteralInternalAddress_IsRefusedWithoutConnecting(string url, string reason)
    {
        var target = new Uri(url);
        var http = Http(s => s.Remove("Workflows:Http:AllowedNetworks:0"));

        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => http.SendAsync(Get(target), [target.Host], default));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Empty(Connected);
        Assert.Empty(_network.Resolved);
    }

    [Fact]
    public async Task Send_LoopbackSinkWithoutTheOperatorsException_IsRefused()
    {
        var http = Http(s => s.Remove("Workflows:Http:AllowedNetworks:0"));

        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => http.SendAsync(Get(Sink("/hello")), ["sink.test"], default));

        Assert.Equal("sink.test resolves to 127.0.0.1, a loopback address, which workflow requests may not reach.", error.Message);
        Assert.Empty(Connected);
        Assert.Empty(sink.Hits);
    }

    [Fact]
    public async Task Send_OperatorOpenedLinkLocal_MetadataAddressIsStillRefused()
    {
        var http = Http(s => s["Workflows:Http:AllowedNetworks:1"] = "169.254.0.0/16");

        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            http.SendAsync(Get(new Uri("http://169.254.169.254/latest/meta-data/")), ["169.254.169.254"], default));

        Assert.Contains("a cloud metadata service address", error.Message, StringComparison.Ordinal);
        Assert.Empty(Connected);
    }

    // Names and DNS

    [Fact]
    public async Task Send_NameResolvingToAPrivateAddress_IsRefusedBeforeConnecting()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(new Uri("http://internal.example/admin")), ["internal.example"], default));

        Assert.Equal("internal.example resolves to 10.0.0.5, a private address, which workflow requests may not reach.", error.Message);
        Assert.Equal(["internal.example"], _network.Resolved);
        Assert.Empty(Connected);
    }

    [Fact]
    public async Task Send_NameResolvingToAPublicAndAPrivateAddress_IsRefusedWithoutTryingEither()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(new Uri("http://mixed.example/")), ["mixed.example"], default));

        Assert.Contains("mixed.example", error.Message, StringComparison.Ordinal);
        Assert.Contains("10.0.0.5", error.Message, StringComparison.Ordinal);
        Assert.Single(_network.Resolved);
        Assert.Empty(Connected);
    }

    // The URL

    [Fact]
    public async Task Send_HostNotOnTheAllowList_IsRefusedWithoutResolving()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(Sink("/hello")), ["other.test", "sink.test.evil.example"], default));

        Assert.Equal("The host sink.test is not on this step's list of allowed hosts.", error.Message);
        Assert.Empty(_network.Resolved);
        Assert.Empty(sink.Hits);
    }

    [Theory]
    [InlineData("ftp://sink.test/file.txt", "Only http and https URLs may be requested, not ftp.")]
    [InlineData("file:///etc/passwd", "Only http and https URLs may be requested, not file.")]
    [InlineData("gopher://sink.test/", "Only http and https URLs may be requested, not gopher.")]
    public async Task Send_SchemeOtherThanHttp_IsRefused(string url, string message)
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(Get(new Uri(url)), ["sink.test"], default));

        Assert.Equal(message, error.Message);
        Assert.Empty(_network.Resolved);
    }

    [Fact]
    public async Task Send_UrlWithUserInfo_IsRefusedWithoutRepeatingThePassword()
    {
        var url = new Uri($"http://admin:hunter2@sink.test:{sink.Port}/hello");

        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(Get(url), ["sink.test"], default));

        Assert.Contains("user name or password", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.Empty(sink.Hits);
    }

    [Theory]
    [InlineData("api.sink.test", "*.sink.test")]
    [InlineData("deep.api.sink.test", "*.sink.test")]
    [InlineData("API.Sink.TEST", "api.sink.test")]
    [InlineData("api.sink.test.", "api.sink.test")]
    [InlineData("sink.test", "SINK.test.")]
    [InlineData("bücher.sink.test", "xn--bcher-kva.sink.test")]
    [InlineData("xn--bcher-kva.sink.test", "BÜCHER.sink.test")]
    public async Task Send_HostMatchingAnAllowListEntry_IsSent(string host, string entry)
    {
        var response = await Http().SendAsync(Get(Sink("/hello", host)), [entry], default);

        Assert.Equal(200, response.StatusCode);
    }

    [Theory]
    [InlineData("sink.test", "*.sink.test")]
    [InlineData("api.sink.test", "sink.test")]
    [InlineData("api.sink.test", "*.api.sink.test")]
    [InlineData("other.test", "*")]
    public async Task Send_HostNotMatchingTheEntry_IsRefused(string host, string entry)
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(Get(Sink("/hello", host)), [entry], default));

        Assert.Contains("is not on this step's list of allowed hosts", error.Message, StringComparison.Ordinal);
        Assert.Empty(sink.Hits);
    }

    [Theory]
    [InlineData("Host")]
    [InlineData("Transfer-Encoding")]
    [InlineData("Content-Length")]
    [InlineData("Proxy-Authorization")]
    [InlineData("X Bad")]
    public async Task Send_HeaderTheClientSetsOrAnInvalidName_IsRefused(string name)
    {
        var request = Get(Sink("/echo"), new Dictionary<string, string> { [name] = "internal.example" });

        await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(request, ["sink.test"], default));

        Assert.Empty(sink.Hits);
    }

    [Fact]
    public async Task Send_HeaderValueWithALineBreak_IsRefused()
    {
        var request = Get(Sink("/echo"), new Dictionary<string, string> { ["X-Note"] = "a\r\nHost: internal.example" });

        await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(request, ["sink.test"], default));

        Assert.Empty(sink.Hits);
    }

    // Redirects

    [Fact]
    public async Task Send_RedirectToAnotherLoopbackAddress_IsRefusedAndNeverConnected()
    {
        // 127.0.0.2 is on the step's allow-list: what stops it is the address, which the operator did not open.
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(Sink("/to-loopback-2")), ["sink.test", "127.0.0.2"], default));

        Assert.Equal("sink.test redirected to a URL that is refused: 127.0.0.2 is a loopback address, which workflow requests may not reach.", error.Message);
        Assert.Equal(["sink.test/to-loopback-2"], sink.Hits);
        Assert.DoesNotContain(Loopback2, Connected);
        Assert.All(Connected, a => Assert.Equal(IPAddress.Loopback, a));
    }

    [Fact]
    public async Task Send_RedirectToTheMetadataService_IsRefusedAndNeverConnected()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(Sink("/to-metadata")), ["sink.test", "169.254.169.254"], default));

        Assert.Contains("169.254.169.254 is a cloud metadata service address", error.Message, StringComparison.Ordinal);
        Assert.Equal(["sink.test/to-metadata"], sink.Hits);
        Assert.DoesNotContain(Metadata, Connected);
    }

    [Fact]
    public async Task Send_RedirectToAHostNotOnTheAllowList_IsRefusedWithoutResolvingIt()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(Sink("/to-elsewhere")), ["sink.test"], default));

        Assert.Equal("sink.test redirected to a URL that is refused: The host elsewhere.example is not on this step's list of allowed hosts.", error.Message);
        Assert.DoesNotContain("elsewhere.example", _network.Resolved);
        Assert.Equal(["sink.test/to-elsewhere"], sink.Hits);
    }

    [Fact]
    public async Task Send_RedirectToAnAllowedNameThatResolvesInternally_IsRefusedAtConnect()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() =>
            Http().SendAsync(Get(Sink("/to-internal")), ["sink.test", "internal.example"], default));

        Assert.Equal("internal.example resolves to 10.0.0.5, a private address, which workflow requests may not reach.", error.Message);
        Assert.Contains("internal.example", _network.Resolved);
        Assert.DoesNotContain(Internal, Connected);
    }

    [Fact]
    public async Task Send_RedirectToFtp_IsRefused()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(Get(Sink("/to-ftp")), ["sink.test"], default));

        Assert.Contains("Only http and https", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_EndlessRedirects_AreRefusedAfterTheLimit()
    {
        var error = await Assert.ThrowsAsync<OutboundRequestRefusedException>(() => Http().SendAsync(Get(Sink("/loop")), ["sink.test"], default));

        Assert.Equal("sink.test redirected more than 5 times; the request was stopped there.", error.Message);
        Assert.Equal(6, sink.Hits.Count);
    }

    [Fact]
    public async Task Send_OneRedirectOnTheSameHost_IsFollowedAndTheBodyRead()
    {
        var response = await Http().SendAsync(Get(Sink("/start")), ["sink.test"], default);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal("hello from the sink", response.Body);
        Assert.False(response.Truncated);
        Assert.Equal([Sink("/start"), Sink("/hello")], response.Hops);
        Assert.Equal(["sink.test/start", "sink.test/hello"], sink.Hits);
    }

    [Fact]
    public async Task Send_RedirectOnTheSameHost_KeepsTheAuthorizationHeader()
    {
        var request = Get(Sink("/found"), new Dictionary<string, string> { ["Authorization"] = "Bearer step-token" });

        var response = await Http().SendAsync(request, ["sink.test"], default);

        Assert.Equal("GET\nBearer step-token\n", response.Body);
    }

    [Fact]
    public async Task Send_RedirectToAnotherHost_DropsTheAuthorizationHeader()
    {
        var request = Get(Sink("/to-other"), new Dictionary<string, string> { ["Authorization"] = "Bearer step-token", ["X-Trace"] = "t1" });

        var response = await Http().SendAsync(request, ["sink.test", "other.test"], default);

        Assert.Equal("GET\n\n", response.Body);
        Assert.Equal(["sink.test/to-other", "other.test/echo"], sink.Hits);
    }

    [Theory]
    [InlineData("/see-other", "GET\n\n")]
    [InlineData("/found", "GET\n\n")]
    [InlineData("/moved", "GET\n\n")]
    [InlineData("/temporary", "POST\n\n{\"invoice\":42}")]
    [InlineData("/permanent", "POST\n\n{\"invoice\":42}")]
    public async Task Send_PostRedirected_SwitchesToGetExceptOn307And308(string path, string echoed)
    {
        var request = new OutboundRequest("POST", Sink(path), new Dictionary<string, string> { ["Content-Type"] = "application/json" }, """{"invoice":42}""");

        var response = await Http().SendAsync(request, ["sink.test"], default);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(echoed, response.Body);
    }

    [Fact]
    public async Task Send_RedirectWithoutLocation_IsReturnedAsIs()
    {
        var response = await Http().SendAsync(Get(Sink("/redirect-nowhere")), ["sink.test"], default);

        Assert.Equal(302, response.StatusCode);
        Assert.Equal("no location", response.Body);
        Assert.Single(response.Hops);
    }

    // The answer

    [Fact]
    public async Task Send_BodyLargerThanTheCap_IsTruncated()
    {
        var response = await Http().SendAsync(Get(Sink("/big")), ["sink.test"], default);

        Assert.True(response.Truncated);
        Assert.Equal(new string('x', 1024), response.Body);
    }

    [Fact]
    public async Task Send_BodyOfExactlyTheCap_IsNotTruncated()
    {
        var response = await Http().SendAsync(Get(Sink("/exact")), ["sink.test"], default);

        Assert.False(response.Truncated);
        Assert.Equal(1024, response.Body.Length);
    }

    [Fact]
    public async Task Send_CapFallsInsideACharacter_TheHalfCharacterIsLeftOut()
    {
        var response = await Http().SendAsync(Get(Sink("/big-utf8")), ["sink.test"], default);

        Assert.True(response.Truncated);
        Assert.Equal(new string('a', 1023), response.Body);
    }

    [Fact]
    public async Task Send_ErrorStatus_IsReturnedWithItsBody()
    {
        var response = await Http().SendAsync(Get(Sink("/teapot")), ["sink.test"], default);

        Assert.Equal(418, response.StatusCode);
        Assert.Equal("short and stout", response.Body);
    }

    [Fact]
    public async Task Send_SlowerThanTheTimeout_ThrowsTimeoutException()
    {
        var http = Http(s => s["Workflows:Http:Timeout"] = "00:00:00.500");

        var error = await Assert.ThrowsAsync<TimeoutException>(() => http.SendAsync(Get(Sink("/slow")), ["sink.test"], default));

        Assert.Equal("The request to sink.test took longer than 0.5 s.", error.Message);
    }

    // Registration

    [Fact]
    public async Task Send_InsideATenantUnitOfWork_IsRefusedByTheSlowCallGuard()
    {
        var http = Http();

        using (SlowCallGuard.Enter())
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => http.SendAsync(Get(Sink("/hello")), ["sink.test"], default));
            Assert.Contains("inside a tenant unit of work", error.Message, StringComparison.Ordinal);
        }

        Assert.Empty(Connected);
        Assert.Empty(sink.Hits);
    }

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0")]
    [InlineData("localhost")]
    public void Options_NetworkThatIsNotCidr_FailsValidation(string network)
    {
        var services = Services(s => s["Workflows:Http:AllowedNetworks:0"] = network);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<OutboundHttpOptions>>().Value);

        Assert.Contains("Workflows:Http:AllowedNetworks", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Defaults_AreTheDocumentedOnes()
    {
        var options = new OutboundHttpOptions();

        Assert.Empty(options.AllowedNetworks);
        Assert.Equal(TimeSpan.FromSeconds(15), options.Timeout);
        Assert.Equal(5, options.MaxRedirects);
        Assert.Equal(65536, options.MaxResponseBytes);
    }

    // The address rules on their own

    [Theory]
    [InlineData("127.0.0.1", "a loopback address")]
    [InlineData("127.255.255.254", "a loopback address")]
    [InlineData("::1", "a loopback address")]
    [InlineData("10.255.0.1", "a private address")]
    [InlineData("172.31.255.255", "a private address")]
    [InlineData("192.168.0.1", "a private address")]
    [InlineData("100.127.255.255", "a carrier-grade NAT address")]
    [InlineData("169.254.1.1", "a link-local address")]
    [InlineData("fe80::abcd", "a link-local address")]
    [InlineData("fc00::1", "a unique-local address")]
    [InlineData("fdff:ffff::1", "a unique-local address")]
    [InlineData("239.255.255.250", "a multicast address")]
    [InlineData("ff02::1", "a multicast address")]
    [InlineData("0.1.2.3", "an unspecified address")]
    [InlineData("::", "the unspecified address")]
    [InlineData("255.255.255.255", "the broadcast address")]
    [InlineData("198.19.255.255", "a benchmarking address")]
    [InlineData("169.254.169.254", "a cloud metadata service address")]
    [InlineData("100.100.100.200", "a cloud metadata service address")]
    [InlineData("fd00:ec2::254", "a cloud metadata service address")]
    [InlineData("::ffff:127.0.0.1", "a loopback address")]
    [InlineData("::ffff:10.0.0.5", "a private address")]
    [InlineData("::ffff:169.254.169.254", "a cloud metadata service address")]
    [InlineData("::10.0.0.5", "a private address")]
    [InlineData("::0.0.0.2", "an unspecified address")]
    [InlineData("64:ff9b::127.0.0.1", "a loopback address")]
    [InlineData("64:ff9b::a9fe:a9fe", "a cloud metadata service address")]
    [InlineData("64:ff9b::192.168.1.1", "a private address")]
    [InlineData("2002:c0a8:0101::1", "a private address")]
    public void Refusal_InternalAddress_SaysWhy(string address, string reason) =>
        Assert.Equal(reason, OutboundAddress.Refusal(IPAddress.Parse(address), []));

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("1.1.1.1")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("198.20.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:93.184.216.34")]
    [InlineData("64:ff9b::5db8:d822")]
    public void Refusal_PublicAddress_IsNull(string address) =>
        Assert.Null(OutboundAddress.Refusal(IPAddress.Parse(address), []));

    [Fact]
    public void Refusal_OperatorException_OpensOnlyItsNetwork()
    {
        IPNetwork[] allowed = [IPNetwork.Parse("127.0.0.1/32"), IPNetwork.Parse("10.1.0.0/16"), IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("fd00::/8")];

        Assert.Null(OutboundAddress.Refusal(IPAddress.Loopback, allowed));
        Assert.Null(OutboundAddress.Refusal(IPAddress.Parse("::ffff:127.0.0.1"), allowed));
        Assert.Null(OutboundAddress.Refusal(IPAddress.Parse("10.1.2.3"), allowed));
        Assert.Null(OutboundAddress.Refusal(IPAddress.Parse("169.254.1.1"), allowed));
        Assert.Equal("a loopback address", OutboundAddress.Refusal(Loopback2, allowed));
        Assert.Equal("a private address", OutboundAddress.Refusal(IPAddress.Parse("10.2.0.1"), allowed));
        Assert.Equal("a cloud metadata service address", OutboundAddress.Refusal(Metadata, allowed));
        Assert.Equal("a cloud metadata service address", OutboundAddress.Refusal(IPAddress.Parse("::ffff:169.254.169.254"), allowed));
        Assert.Equal("a cloud metadata service address", OutboundAddress.Refusal(IPAddress.Parse("fd00:ec2::254"), allowed));
    }

    /// <summary>Resolves the tests' names from a table (unknown names do not exist) and records every connect attempt.</summary>
    private sealed class RecordingNetwork : OutboundNetwork
    {
        private readonly ConcurrentDictionary<string, IPAddress[]> _names = new(StringComparer.OrdinalIgnoreCase);
        private readonly ConcurrentQueue<string> _resolved = new();
        private readonly ConcurrentQueue<IPAddress> _connected = new();

        public IReadOnlyCollection<string> Resolved => _resolved;
        public IReadOnlyCollection<IPAddress> Connected => _connected;

        public void Map(string host, params string[] addresses) => _names[host] = [.. addresses.Select(IPAddress.Parse)];

        public override Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
        {
            _resolved.Enqueue(host);
            return _names.TryGetValue(host.TrimEnd('.'), out var addresses)
                ? Task.FromResult(addresses)
                : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
        }

        public override ValueTask<Stream> ConnectAsync(IPAddress[] addresses, int port, CancellationToken ct)
        {
            foreach (var address in addresses)
            {
                _connected.Enqueue(address);
            }
            return base.ConnectAsync(addresses, port, ct);
        }
    }
}

/// <summary>A Kestrel server on 127.0.0.1 answering by path: bodies, redirects (to itself, to internal addresses, elsewhere) and an echo.</summary>
public sealed class OutboundSink : IAsyncLifetime
{
    private readonly ConcurrentQueue<string> _hits = new();
    private WebApplication? _app;

    public int Port { get; private set; }

    /// <summary>Every request received, as host (without port) and path.</summary>
    public IReadOnlyList<string> Hits => [.. _hits];

    public void ClearHits() => _hits.Clear();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(HandleAsync);
        await _app.StartAsync();
        Port = new Uri(_app.Urls.Single()).Port;
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        _hits.Enqueue(context.Request.Host.Host + path);
        var response = context.Response;
        switch (path)
        {
            case "/hello":
                await response.WriteAsync("hello from the sink");
                break;
            case "/start":
                Redirect(302, "/hello");
                break;
            case "/to-loopback-2":
                Redirect(302, $"http://127.0.0.2:{Port}/");
                break;
            case "/to-metadata":
                Redirect(302, "http://169.254.169.254/latest/meta-data/");
                break;
            case "/to-elsewhere":
                Redirect(302, $"http://elsewhere.example:{Port}/hello");
                break;
            case "/to-internal":
                Redirect(302, $"http://internal.example:{Port}/hello");
                break;
            case "/to-other":
                Redirect(302, $"http://other.test:{Port}/echo");
                break;
            case "/to-ftp":
                Redirect(302, "ftp://sink.test/file.txt");
                break;
            case "/loop":
                Redirect(302, "/loop");
                break;
            case "/see-other":
                Redirect(303, "/echo");
                break;
            case "/found":
                Redirect(302, "/echo");
                break;
            case "/moved":
                Redirect(301, "/echo");
                break;
            case "/temporary":
                Redirect(307, "/echo");
                break;
            case "/permanent":
                Redirect(308, "/echo");
                break;
            case "/redirect-nowhere":
                response.StatusCode = 302;
                await response.WriteAsync("no location");
                break;
            case "/echo":
                using (var reader = new StreamReader(context.Request.Body))
                {
                    var body = await reader.ReadToEndAsync(context.RequestAborted);
                    await response.WriteAsync($"{context.Request.Method}\n{context.Request.Headers.Authorization}\n{body}");
                }
                break;
            case "/big":
                await response.WriteAsync(new string('x', 5000));
                break;
            case "/exact":
                await response.WriteAsync(new string('y', 1024));
                break;
            case "/big-utf8":
                // "é" is two bytes in UTF-8: bytes 1024 and 1025, so the cap at 1024 cuts it in half.
                await response.WriteAsync(new string('a', 1023) + "é" + new string('b', 100));
                break;
            case "/teapot":
                response.StatusCode = 418;
                await response.WriteAsync("short and stout");
                break;
            case "/slow":
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                break;
            default:
                response.StatusCode = 404;
                break;
        }

        void Redirect(int status, string location)
        {
            response.StatusCode = status;
            response.Headers.Location = location;
        }
    }
}
