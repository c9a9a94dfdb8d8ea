using System.Net;
using System.Net.Sockets;

namespace AgentSpace.Hosting;

/// <summary>The bucket a client address counts against in rate limits.</summary>
public static class ClientAddress
{
    /// <summary>Requests without a known address share one bucket: a missing address must not mean "no limit".</summary>
    public const string Unknown = "unknown";

    public static string Bucket(string? ip) => IPAddress.TryParse(ip, out var address) ? Bucket(address) : Unknown;

    /// <summary>
    /// IPv4 addresses as they are; IPv6 by /64, the smallest block a subscriber is usually given, so one
    /// client cannot get a fresh bucket for each of its 2^64 addresses.
    /// </summary>
    public static string Bucket(IPAddress? address)
    {
        if (address is null)
        {
            return Unknown;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
