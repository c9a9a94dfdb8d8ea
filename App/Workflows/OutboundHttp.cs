using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AgentSpace.Workflows;

/// <summary>An outbound workflow request that was not sent: its URL, a redirect or the address its host resolves to is not allowed.</summary>
public sealed class OutboundRequestRefusedException(string message) : Exception(message);

/// <summary>An HTTP request a workflow step sends. <see cref="Body"/> is sent as UTF-8; a <c>Content-Type</c> header names its type.</summary>
public sealed record OutboundRequest(string Method, Uri Url, IReadOnlyDictionary<string, string> Headers, string? Body);

/// <summary>
/// What the last hop answered. <see cref="Body"/> is at most <see cref="OutboundHttpOptions.MaxResponseBytes"/> of it
/// as UTF-8 text, <see cref="Truncated"/> when there was more; <see cref="Hops"/> lists every URL requested, the first
/// one included, in order.
/// </summary>
public sealed record OutboundResponse(int StatusCode, string Body, bool Truncated, IReadOnlyList<Uri> Hops);

/// <summary>Limits for workflow HTTP requests, from configuration section <c>Workflows:Http</c>.</summary>
public sealed class OutboundHttpOptions
{
    public const string Section = "Workflows:Http";

    /// <summary>
    /// Networks (CIDR, such as <c>127.0.0.1/32</c> for a local test sink) an operator opens although they are internal.
    /// Cloud metadata addresses stay refused inside them.
    /// </summary>
    public string[] AllowedNetworks { get; set; } = [];

    /// <summary>How long one request may take, every redirect and the body included.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How many redirects are followed before the request is refused.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>How much of a response body is read; the rest is cut off.</summary>
    public int MaxResponseBytes { get; set; } = 65536;

    internal IPNetwork[] Networks() => [.. AllowedNetworks.Select(n => IPNetwork.Parse(n))];

    // 10.0.0.1/8 would quietly open all of 10.0.0.0/8 where one address was probably meant: only the network's own
    // base address is taken.
    internal bool NetworksAreValid() => AllowedNetworks.All(n =>
        n is not null
        && n.IndexOf('/', StringComparison.Ordinal) is > 0 and var slash
        && IPNetwork.TryParse(n, out var network)
        && IPAddress.TryParse(n.AsSpan(0, slash), out var written)
        && written.Equals(network.BaseAddress));
}

/// <summary>
/// Sends a workflow step's HTTP request where the step may send it and nowhere else: only to hosts on the step's
/// allow-list, never to this machine, a private network or a cloud metadata service (SSRF). The host is resolved once,
/// at connect time, and the connection goes to exactly the addresses that were checked, so a name cannot resolve to a
/// public address for the check and to an internal one for the connect. Redirects are followed here, one hop at a time,
/// each through the same checks. Like every <c>IHttpClientFactory</c> client it refuses to send from inside a tenant
/// unit of work (SlowCallGuardHandler, added to every client by <c>AddData</c>).
/// </summary>
public sealed class OutboundHttp(IHttpClientFactory clients, IOptions<OutboundHttpOptions> options)
{
    /// <summary>The <c>IHttpClientFactory</c> client the requests go through.</summary>
    public const string ClientName = "workflow-http";

    // Set by the client from the request and its body; a step that could set them could split or smuggle requests.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Content-Length", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Keep-Alive",
        "Expect", "Proxy-Authorization", "Proxy-Connection",
    };

    private static readonly HashSet<string> Methods = new(StringComparer.Ordinal) { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };

    private static readonly SearchValues<char> TokenCharacters =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    private readonly OutboundHttpOptions _options = options.Value;
    private readonly IPNetwork[] _allowedNetworks = options.Value.Networks();

    /// <summary>
    /// Sends <paramref name="request"/>, following redirects, and reads the final answer's body up to the configured cap.
    /// </summary>
    /// <param name="request">The request as the step configured it.</param>
    /// <param name="allowedHosts">Host names the step may reach: exact names, or <c>*.example.com</c> for any subdomain of example.com (not example.com itself).</param>
    /// <param name="ct">Cancels the request.</param>
    /// <exception cref="OutboundRequestRefusedException">The URL, a redirect or a resolved address is not allowed; nothing was sent there.</exception>
    /// <exception cref="TimeoutException">The request and its redirects took longer than <see cref="OutboundHttpOptions.Timeout"/>.</exception>
    public async Task<OutboundResponse> SendAsync(OutboundRequest request, IReadOnlyCollection<string> allowedHosts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Url);
        ArgumentNullException.ThrowIfNull(allowedHosts);
        var method = request.Method.ToUpperInvariant();
        if (!Methods.Contains(method))
        {
            throw new OutboundRequestRefusedException($"The method {request.Method} is not one a workflow request may use.");
        }
        var headers = CheckHeaders(request.Headers);
        var hosts = new HostAllowList(allowedHosts);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            return await FollowAsync(method, request.Url, headers, request.Body, hosts, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"The request to {request.Url.Host} took longer than {_options.Timeout.TotalSeconds:0.#} s."));
        }
    }

    private async Task<OutboundResponse> FollowAsync(string method, Uri url, Dictionary<string, string> headers, string? body, HostAllowList hosts, CancellationToken ct)
    {
        var client = clients.CreateClient(ClientName);
        var hops = new List<Uri>();
        CheckUrl(url, hosts, redirectedFrom: null);
        while (true)
        {
            hops.Add(url);
            using var response = await SendOneAsync(client, method, url, headers, body, ct);
            var status = (int)response.StatusCode;
            if (status is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location)
            {
                var (text, truncated) = await ReadBodyAsync(response.Content, _options.MaxResponseBytes, ct);
                return new OutboundResponse(status, text, truncated, [.. hops]);
            }
            if (hops.Count > _options.MaxRedirects)
            {
                throw new OutboundRequestRefusedException($"{url.Host} redirected more than {_options.MaxRedirects} times; the request was stopped there.");
            }
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            CheckUrl(next, hosts, redirectedFrom: url);
            // As browsers do: 303 always, and 301/302 after a POST, turn into a GET without the body.
            if ((status == 303 && method != "HEAD") || (status is 301 or 302 && method == "POST"))
            {
                method = "GET";
                body = null;
            }
            // Credentials given for one origin are not handed to another because it redirected there.
            if (Uri.Compare(url, next, UriComponents.SchemeAndServer, UriFormat.SafeUnescaped, StringComparison.OrdinalIgnoreCase) != 0)
            {
                headers.Remove("Authorization");
                headers.Remove("Cookie");
            }
            url = next;
        }
    }

    private static async Task<HttpResponseMessage> SendOneAsync(HttpClient client, string method, Uri url, Dictionary<string, string> headers, string? body, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null)
        {
            message.Content = new StringContent(body, Encoding.UTF8);
        }
        foreach (var (name, value) in headers)
        {
            if (!message.Headers.TryAddWithoutValidation(name, value) && message.Content is { } content)
            {
                // A content header (Content-Type, Content-Language): it describes the body, and goes only with one.
                content.Headers.Remove(name);
                content.Headers.TryAddWithoutValidation(name, value);
            }
        }
        try
        {
            return await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException e) when (RefusedIn(e) is { } refused)
        {
            // Refused in the connect step: report the refusal itself, not a connection failure.
            throw new OutboundRequestRefusedException(refused.Message);
        }
    }

    private static OutboundRequestRefusedException? RefusedIn(Exception error)
    {
        for (var e = error.InnerException; e is not null; e = e.InnerException)
        {
            if (e is OutboundRequestRefusedException refused)
            {
                return refused;
            }
        }
        return null;
    }

    private void CheckUrl(Uri url, HostAllowList hosts, Uri? redirectedFrom)
    {
        var refusal = UrlRefusal(url, hosts);
        if (refusal is not null)
        {
            throw new OutboundRequestRefusedException(redirectedFrom is null ? refusal : $"{redirectedFrom.Host} redirected to a URL that is refused: {refusal}");
        }
    }

    private string? UrlRefusal(Uri url, HostAllowList hosts)
    {
        if (!url.IsAbsoluteUri)
        {
            return "The URL is not absolute.";
        }
        if (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
        {
            return $"Only http and https URLs may be requested, not {url.Scheme}.";
        }
        if (url.UserInfo.Length > 0)
        {
            return $"The URL for {url.Host} carries a user name or password; send credentials in a header instead.";
        }
        var host = HostAllowList.Normalize(url.Host);
        if (host is null || !hosts.Allows(host))
        {
            return $"The host {url.Host} is not on this step's list of allowed hosts.";
        }
        // A literal address needs no DNS: refuse it here, before a connection is even attempted.
        if (url.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
            && IPAddress.TryParse(url.DnsSafeHost, out var address)
            && OutboundAddress.Refusal(address, _allowedNetworks) is { } reason)
        {
            return $"{address} is {reason}, which workflow requests may not reach.";
        }
        return null;
    }

    private static Dictionary<string, string> CheckHeaders(IReadOnlyDictionary<string, string> headers)
    {
        var checkedHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            if (name.Length == 0 || name.AsSpan().ContainsAnyExcept(TokenCharacters))
            {
                throw new OutboundRequestRefusedException($"\"{name}\" is not a valid header name.");
            }
            if (ReservedHeaders.Contains(name) || name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase))
            {
                throw new OutboundRequestRefusedException($"The header {name} is set by the client and cannot be given.");
            }
            if (value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                throw new OutboundRequestRefusedException($"The value of the header {name} contains a line break.");
            }
            checkedHeaders[name] = value;
        }
        return checkedHeaders;
    }

    private static async Task<(string Text, bool Truncated)> ReadBodyAsync(HttpContent content, int maxBytes, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(maxBytes + 1);
        try
        {
            await using var stream = await content.ReadAsStreamAsync(ct);
            var read = 0;
            // One byte past the cap tells a body of exactly the cap from a longer one.
            while (read <= maxBytes)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read, maxBytes + 1 - read), ct);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
            var truncated = read > maxBytes;
            // Without a flush a character cut in half at the cap is left out rather than turned into U+FFFD.
            var bytes = buffer.AsSpan(0, Math.Min(read, maxBytes));
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[decoder.GetCharCount(bytes, flush: !truncated)];
            var written = decoder.GetChars(bytes, chars, flush: !truncated);
            return (new string(chars, 0, written), truncated);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A step's allowed hosts, normalised the way request hosts are: lowercase ASCII (IDN), no trailing dot.</summary>
    private sealed class HostAllowList
    {
        private readonly HashSet<string> _exact = new(StringComparer.Ordinal);
        private readonly List<string> _subdomainsOf = [];

        public HostAllowList(IEnumerable<string> entries)
        {
            foreach (var entry in entries)
            {
                // An entry that does not normalise matches nothing (fail closed), rather than failing the whole list.
                if (entry.StartsWith("*.", StringComparison.Ordinal))
                {
                    if (Normalize(entry[2..]) is { } parent && !IPAddress.TryParse(parent, out _))
                    {
                        _subdomainsOf.Add("." + parent);
                    }
                }
                else if (Normalize(entry) is { } host)
                {
                    _exact.Add(host);
                }
            }
        }

        public bool Allows(string host) =>
            _exact.Contains(host)
            || (!IPAddress.TryParse(host, out _) && _subdomainsOf.Exists(suffix => host.EndsWith(suffix, StringComparison.Ordinal)));

        /// <summary>The comparable form of a host, or null when it is not a valid host name or address.</summary>
        public static string? Normalize(string host)
        {
            var trimmed = host.Trim();
            if (trimmed.EndsWith('.'))
            {
                trimmed = trimmed[..^1];
            }
            var bare = trimmed.StartsWith('[') && trimmed.EndsWith(']') ? trimmed[1..^1] : trimmed;
            if (bare.Contains(':', StringComparison.Ordinal) || IsDottedQuad(bare))
            {
                return IPAddress.TryParse(bare, out var address) ? address.ToString() : null;
            }
            try
            {
                return trimmed.Length == 0 ? null : new IdnMapping().GetAscii(trimmed).ToLowerInvariant();
            }
            catch (ArgumentException)
            {
                return null;
            }
        }

        private static bool IsDottedQuad(string host) =>
            host.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));
    }
}

/// <summary>
/// Which addresses workflow requests may not reach: this machine, private and shared networks, link-local, multicast,
/// reserved ranges and cloud metadata services, also when written as an IPv6 form of an IPv4 address. Unlike
/// ProviderAddress (where a self-hosted model on the private network is the point), a workflow's target is chosen by
/// tenant members, so internal networks are closed unless the operator opens one.
/// </summary>
internal static class OutboundAddress
{
    private static readonly IPAddress[] MetadataAddresses =
    [
        IPAddress.Parse("169.254.169.254"), // AWS, Azure, GCP, Oracle and others
        IPAddress.Parse("100.100.100.200"), // Alibaba Cloud
        IPAddress.Parse("fd00:ec2::254"), // AWS over IPv6 (Nitro)
    ];

    private static readonly (IPNetwork Network, string Reason)[] Refused =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified address"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private address"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT address"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local address"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private address"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private address"),
        (IPNetwork.Parse("198.18.0.0/15"), "a benchmarking address"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address"),
        (IPNetwork.Parse("255.255.255.255/32"), "the broadcast address"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved address"),
        (IPNetwork.Parse("::/128"), "the unspecified address"),
        (IPNetwork.Parse("::1/128"), "a loopback address"),
        (IPNetwork.Parse("fe80::/10"), "a link-local address"),
        (IPNetwork.Parse("fec0::/10"), "a site-local address"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local address"),
        (IPNetwork.Parse("ff00::/8"), "a multicast address"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "a local-use NAT64 address"),
    ];

    // The well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d on a NAT64 network.
    private static readonly byte[] Nat64Prefix = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Why <paramref name="address"/> is refused ("a loopback address"), or null when a workflow may connect to it.</summary>
    /// <param name="address">A resolved or literal address.</param>
    /// <param name="allowedNetworks">Networks the operator opened (<see cref="OutboundHttpOptions.AllowedNetworks"/>); they never open a metadata address.</param>
    public static string? Refusal(IPAddress address, IReadOnlyList<IPNetwork> allowedNetworks)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(allowedNetworks);
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            return "not an internet address";
        }
        // Without the scope id (fe80::1%2), so the comparisons below see the address alone.
        var plain = new IPAddress(address.GetAddressBytes());
        var embedded = EmbeddedIPv4(plain);
        if (IsMetadata(plain) || (embedded is not null && IsMetadata(embedded)))
        {
            return "a cloud metadata service address";
        }
        foreach (var network in allowedNetworks)
        {
            if (network.Contains(plain))
            {
                return null;
            }
        }
        if (embedded is not null)
        {
            // ::ffff:127.0.0.1 and 64:ff9b::7f00:1 reach 127.0.0.1: they are what they embed.
            return Refusal(embedded, allowedNetworks);
        }
        foreach (var (network, reason) in Refused)
        {
            if (network.Contains(plain))
            {
                return reason;
            }
        }
        return null;
    }

    /// <summary>
    /// The handler's connect step: resolve the host once, refuse if any address it resolves to is refused (a name
    /// cannot mix a public address with an internal one and win a race), then connect to exactly the checked addresses.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, OutboundNetwork network, IReadOnlyList<IPNetwork> allowedNetworks, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(network);
        var host = endpoint.Host.TrimStart('[').TrimEnd(']');
        var literal = IPAddress.TryParse(host, out var parsed);
        var addresses = literal ? [parsed!] : await network.ResolveAsync(host, ct);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        foreach (var address in addresses)
        {
            if (Refusal(address, allowedNetworks) is { } reason)
            {
                throw new OutboundRequestRefusedException(literal
                    ? $"{address} is {reason}, which workflow requests may not reach."
                    : $"{endpoint.Host} resolves to {address}, {reason}, which workflow requests may not reach.");
            }
        }
        return await network.ConnectAsync(addresses, endpoint.Port, ct);
    }

    private static bool IsMetadata(IPAddress address) => Array.Exists(MetadataAddresses, address.Equals);

    // The IPv4 address an IPv6 one stands for: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated
    // but still routed as IPv4 by some stacks), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::, the relay at a.b.c.d).
    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        var bytes = address.GetAddressBytes();
        var prefix = bytes.AsSpan(0, 12);
        if (prefix.SequenceEqual(Nat64Prefix) || (prefix.IndexOfAnyExcept((byte)0) < 0 && !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.IPv6Loopback)))
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }
        if (bytes[0] == 0x20 && bytes[1] == 0x02)
        {
            return new IPAddress(bytes.AsSpan(2, 4));
        }
        return null;
    }
}

/// <summary>Name resolution and TCP connect for <see cref="OutboundHttp"/>'s connections; tests resolve their own names and record connects.</summary>
internal class OutboundNetwork
{
    public virtual Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Dns.GetHostAddressesAsync(host, ct);

    public virtual async ValueTask<Stream> ConnectAsync(IPAddress[] addresses, int port, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>Registers <see cref="OutboundHttp"/> and its client.</summary>
public static class OutboundHttpServiceCollectionExtensions
{
    public static IServiceCollection AddOutboundHttp(this IServiceCollection services)
    {
        services.AddOptions<OutboundHttpOptions>()
            .BindConfiguration(OutboundHttpOptions.Section)
            .Validate(o => o.NetworksAreValid(), "Workflows:Http:AllowedNetworks must be CIDR networks such as 127.0.0.1/32, with no bits set past the prefix.")
            .Validate(o => o.Timeout > TimeSpan.Zero, "Workflows:Http:Timeout must be positive.")
            .Validate(o => o.MaxRedirects is >= 0 and <= 20, "Workflows:Http:MaxRedirects must be between 0 and 20.")
            .Validate(o => o.MaxResponseBytes is > 0 and <= 16 * 1024 * 1024, "Workflows:Http:MaxResponseBytes must be between 1 and 16 MB.")
            .ValidateOnStart();
        services.TryAddSingleton<OutboundNetwork>();
        services.AddHttpClient(OutboundHttp.ClientName, http => http.Timeout = System.Threading.Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var options = sp.GetRequiredService<IOptions<OutboundHttpOptions>>().Value;
                var network = sp.GetRequiredService<OutboundNetwork>();
                var allowedNetworks = options.Networks();
                return new SocketsHttpHandler
                {
                    // OutboundHttp follows redirects itself, checking every hop.
                    AllowAutoRedirect = false,
                    UseCookies = false,
                    // Through a proxy the connect step would see the proxy, and the proxy would resolve the target.
                    UseProxy = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    ConnectTimeout = options.Timeout,
                    ConnectCallback = (context, ct) => OutboundAddress.ConnectAsync(context.DnsEndPoint, network, allowedNetworks, ct),
                };
            });
        services.AddSingleton<OutboundHttp>();
        return services;
    }
}
