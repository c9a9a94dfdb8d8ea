using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AgentSpace.Hosting;

public sealed class AppOptions
{
    public const string Section = "App";

    /// <summary>The address users open (scheme, host, port). Every emailed link is built on it; the request's Host header never is.</summary>
    public string PublicBaseUrl { get; set; } = "";
}

/// <summary>
/// Builds links that leave the app (sign-in and invitation emails) from <c>App:PublicBaseUrl</c> only.
/// A request's Host header, or the base URI a Blazor client reports, is attacker-controlled: a link built
/// from it would carry a live token to the attacker's site. In Development, without the setting, links
/// use the address the server listens on.
/// </summary>
public sealed partial class PublicUrl(IOptions<AppOptions> options, IHostEnvironment environment, IServiceProvider services, IConfiguration configuration)
{
    public const string Setting = "App:PublicBaseUrl";

    private string? _base;

    /// <summary>The base without a trailing slash, e.g. <c>https://agentspace.example.com</c>.</summary>
    public string Base => _base ??= Resolve();

    /// <summary>An absolute link to <paramref name="pathAndQuery"/> (which starts with '/').</summary>
    public string For(string pathAndQuery)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathAndQuery);
        return pathAndQuery[0] == '/' ? Base + pathAndQuery : throw new ArgumentException("A path starting with '/' is expected.", nameof(pathAndQuery));
    }

    /// <summary>Null when the setting is usable here; otherwise the one-line reason the app must not start.</summary>
    public static string? ConfigurationError(IConfiguration configuration, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(environment);
        var raw = configuration[Setting];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return environment.IsDevelopment()
                ? null
                : $"{Setting} is not set. Set it to the address users open (e.g. App__PublicBaseUrl=https://agentspace.example.com): sign-in and invitation links are built only from it.";
        }
        // The value is not echoed: it may carry credentials (https://user:password@...), and this line goes to logs.
        return TryParse(raw, out _) ? null : $"{Setting} is not an absolute http(s) URL without credentials, query or fragment (e.g. https://agentspace.example.com).";
    }

    private string Resolve()
    {
        if (TryParse(options.Value.PublicBaseUrl, out var configured))
        {
            return configured;
        }
        if (!environment.IsDevelopment())
        {
            throw new InvalidOperationException(ConfigurationError(configuration, environment) ?? $"{Setting} is not usable.");
        }
        var listening = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? configuration["urls"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
            ?? "http://localhost";
        // A wildcard binding (http://+:8080, http://0.0.0.0:8080) is not an address a browser can open.
        return WildcardHost().Replace(listening, "://localhost").TrimEnd('/');
    }

    internal static bool TryParse(string? raw, out string normalized)
    {
        normalized = "";
        if (string.IsNullOrWhiteSpace(raw)
            || !Uri.TryCreate(raw.Trim(), UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            return false;
        }
        normalized = uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
        return true;
    }

    /// <summary>The host name the host filter admits for <paramref name="baseUrl"/> (no port, IDNA form).</summary>
    internal static string HostOf(string baseUrl)
    {
        var uri = new Uri(baseUrl);
        return uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost;
    }

    [GeneratedRegex(@"://(\+|\*|0\.0\.0\.0|\[::\])(?=[:/]|$)")]
    private static partial Regex WildcardHost();
}

/// <summary>Outside Development, refuses to serve without a usable <c>App:PublicBaseUrl</c>; anywhere, with a malformed one.</summary>
public sealed class PublicUrlStartupCheck(IConfiguration configuration, IHostEnvironment environment) : IStartupCheck
{
    public void Check()
    {
        if (PublicUrl.ConfigurationError(configuration, environment) is { } problem)
        {
            throw new StartupConfigurationException(problem);
        }
    }
}

public static class PublicUrlServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PublicUrl"/>, and makes the host filter admit only the public host when
    /// <c>AllowedHosts</c> is not set explicitly.
    /// </summary>
    public static IServiceCollection AddPublicUrl(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AppOptions>(configuration.GetSection(AppOptions.Section));
        services.TryAddSingleton<PublicUrl>();
        services.AddStartupCheck<PublicUrlStartupCheck>();
        // Runs before the host's own PostConfigure, which falls back to AllowedHosts (or "*") only when this left the list empty.
        // Loopback names stay allowed so health probes on the machine itself (docker HEALTHCHECK, the tests) get
        // through; a forged "Host: localhost" gains nothing, since no link or route depends on the Host header.
        services.AddOptions<HostFilteringOptions>().Configure<IConfiguration>((o, config) =>
        {
            // A request without a Host has no business here (and breaks absolute-URL building downstream).
            o.AllowEmptyHosts = false;
            if (string.IsNullOrWhiteSpace(config["AllowedHosts"]) && PublicUrl.TryParse(config[PublicUrl.Setting], out var publicBase))
            {
                o.AllowedHosts = [.. new[] { PublicUrl.HostOf(publicBase), "localhost", "127.0.0.1", "[::1]" }.Distinct(StringComparer.OrdinalIgnoreCase)];
            }
        });
        return services;
    }
}
