using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace AgentSpace.Hosting;

/// <summary>
/// Client addresses behind a reverse proxy. Only when <c>App:TrustedProxies</c> lists the proxies'
/// addresses is <c>X-Forwarded-For</c> / <c>X-Forwarded-Proto</c> believed, and only from them; the
/// Host header is never taken from a forwarded header (emailed links use <c>App:PublicBaseUrl</c>).
/// Without it, per-IP sign-in limits would count every client as the proxy.
/// </summary>
public static class TrustedProxies
{
    public const string Setting = "App:TrustedProxies";

    public static IServiceCollection AddTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        var proxies = Parse(configuration);
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownIPNetworks.Clear();
            o.KnownProxies.Clear();
            foreach (var proxy in proxies)
            {
                o.KnownProxies.Add(proxy);
            }
        });
        return services;
    }

    public static IApplicationBuilder UseTrustedProxies(this IApplicationBuilder app, IConfiguration configuration) =>
        Parse(configuration).Count > 0 ? app.UseForwardedHeaders() : app;

    private static List<IPAddress> Parse(IConfiguration configuration)
    {
        var raw = configuration[Setting] ?? "";
        var list = new List<IPAddress>();
        foreach (var part in raw.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            list.Add(IPAddress.TryParse(part, out var ip)
                ? ip
                : throw new InvalidOperationException($"{Setting}: '{part}' is not an IP address."));
        }
        return list;
    }
}
