using System.Net;
using System.Net.Sockets;

namespace AgentSpace.Providers;

/// <summary>A provider address the app will not connect to (link-local, a cloud metadata service, multicast).</summary>
public sealed class ProviderAddressRefusedException(string message) : IOException(message);

/// <summary>
/// Where a provider call may connect. Private networks and this machine stay allowed: a self-hosted Ollama, vLLM or
/// LM Studio is the point of a base URL. Link-local and cloud metadata addresses are refused, because "Test
/// connection" and the chat show what the server answered, and the metadata service answers with credentials.
/// The check runs on the addresses DNS returned, at connect time, so a name that resolves to one is refused too.
/// </summary>
internal static class ProviderAddress
{
    // The metadata services outside 169.254.0.0/16: Alibaba Cloud's, and AWS's over IPv6 (Nitro).
    private static readonly IPAddress AlibabaMetadata = IPAddress.Parse("100.100.100.200");
    private static readonly IPAddress AwsMetadataV6 = IPAddress.Parse("fd00:ec2::254");

    // The well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d on a NAT64 network.
    private static readonly byte[] Nat64Prefix = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Why <paramref name="address"/> is refused, or null when a provider may live there.</summary>
    public static string? Refusal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            if (address.IsIPv4MappedToIPv6)
            {
                return Refusal(address.MapToIPv4());
            }
            if (bytes.AsSpan(0, 12).SequenceEqual(Nat64Prefix) || IsIPv4Compatible(bytes))
            {
                return Refusal(new IPAddress(bytes.AsSpan(12, 4)));
            }
            if (address.IsIPv6LinkLocal)
            {
                return "a link-local address";
            }
            if (address.IsIPv6Multicast)
            {
                return "a multicast address";
            }
            if (address.Equals(IPAddress.IPv6Any))
            {
                return "the unspecified address";
            }
            return new IPAddress(bytes).Equals(AwsMetadataV6) ? "a cloud metadata service address" : null;
        }
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return "not an internet address";
        }
        var v4 = address.GetAddressBytes();
        return v4 switch
        {
            [169, 254, _, _] => "a link-local (metadata service) address",
            [0, _, _, _] => "the unspecified network (0.0.0.0/8)",
            [>= 224 and <= 239, _, _, _] => "a multicast address",
            [255, 255, 255, 255] => "the broadcast address",
            _ when address.Equals(AlibabaMetadata) => "a cloud metadata service address",
            _ => null,
        };
    }

    /// <summary>
    /// The handler's connect step: resolve the host once, refuse if any address it resolves to is refused (a name
    /// cannot mix an allowed address with a metadata one and win a race), then connect to the checked addresses
    /// without resolving again.
    /// </summary>
    public static ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ConnectAsync(context.DnsEndPoint, Dns.GetHostAddressesAsync, ct);
    }

    /// <summary><see cref="ConnectAsync(SocketsHttpConnectionContext, CancellationToken)"/> with the resolver given (tests resolve names their own way).</summary>
    internal static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, Func<string, CancellationToken, Task<IPAddress[]>> resolve, CancellationToken ct)
    {
        var host = endpoint.Host.TrimStart('[').TrimEnd(']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolve(host, ct);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        foreach (var address in addresses)
        {
            if (Refusal(address) is { } reason)
            {
                throw new ProviderAddressRefusedException($"{endpoint.Host} is {reason} ({address}), which is not allowed for a model provider.");
            }
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // ::a.b.c.d (deprecated, but some stacks still route it as IPv4); not :: and not ::1.
    private static bool IsIPv4Compatible(byte[] bytes) =>
        bytes.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0 && (bytes[12] | bytes[13]) != 0;
}
