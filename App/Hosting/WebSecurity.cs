using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.Features;

namespace AgentSpace.Hosting;

/// <summary>Security headers on every response, and a same-origin check on the Blazor hub.</summary>
public static class WebSecurity
{
    // Blazor Server and MudBlazor run without eval; MudBlazor sets inline style attributes, hence 'unsafe-inline' for styles only.
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var h = context.Response.Headers;
                h.ContentSecurityPolicy = ContentSecurityPolicy;
                h.XContentTypeOptions = "nosniff";
                h.XFrameOptions = "DENY";
                h["Referrer-Policy"] = "no-referrer";
                h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
                h["Cross-Origin-Opener-Policy"] = "same-origin";
                return Task.CompletedTask;
            });
            await next();
        });

    /// <summary>Refuses cross-origin (and origin-less WebSocket) requests to the Blazor hub: no cross-site WebSocket hijacking.</summary>
    public static IApplicationBuilder UseSameOriginBlazorHub(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/_blazor", StringComparison.OrdinalIgnoreCase) && !IsSameOrigin(context))
            {
                // No status-code page re-execution: the answer is a bare 403.
                if (context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
                {
                    pages.Enabled = false;
                }
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }
            await next();
        });

    internal static bool IsSameOrigin(HttpContext context)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (string.IsNullOrEmpty(origin))
        {
            // Browsers send Origin on every WebSocket handshake and on the negotiate POST; only a plain
            // same-origin GET (such as the initializers fetch) arrives without one.
            return !IsWebSocketUpgrade(context) && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method));
        }
        // Host comparison (not scheme), so a TLS-terminating proxy in front does not break the check.
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A WebSocket handshake, read from the request itself. <c>HttpContext.WebSockets.IsWebSocketRequest</c>
    /// is false here under Kestrel: the feature behind it is added by the WebSockets middleware, which the
    /// hub's endpoint runs later. HTTP/1.1 asks with <c>Upgrade: websocket</c>, HTTP/2 and HTTP/3 with an
    /// extended CONNECT.
    /// </summary>
    internal static bool IsWebSocketUpgrade(HttpContext context) =>
        context.WebSockets.IsWebSocketRequest
        || context.Request.Headers.Upgrade.Any(v => v?.Contains("websocket", StringComparison.OrdinalIgnoreCase) == true)
        || HttpMethods.IsConnect(context.Request.Method)
        || context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true;

    /// <summary>
    /// Requires the antiforgery token on every endpoint of <paramref name="builder"/>. The metadata makes
    /// UseAntiforgery validate the request; the filter refuses it when that failed, which the framework
    /// does by itself only for endpoints that bind a form field.
    /// </summary>
    public static TBuilder RequireAntiforgery<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        // Validated here, not by the middleware: for an endpoint that binds form fields the middleware's failure
        // surfaces as a binding error (a bare 400 re-executed as a page), where this answers what happened.
        builder.WithMetadata(AntiforgeryEnforced.Instance);
        builder.Finally(endpoint =>
        {
            // Runs after minimal APIs inferred their own "validate" metadata for form parameters.
            foreach (var inferred in endpoint.Metadata.OfType<IAntiforgeryMetadata>().ToList())
            {
                endpoint.Metadata.Remove(inferred);
            }
            endpoint.Metadata.Add(new RequireAntiforgeryTokenAttribute(required: false));
        });
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            bool valid;
            try
            {
                valid = await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http);
            }
            catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException or IOException)
            {
                // A body the form reader refuses (too large, malformed): the same plain refusal, not a fault.
                valid = false;
            }
            return valid
                ? await next(context)
                : Results.Text("This form has expired or did not come from this site. Go back, reload the page and try again.",
                    "text/plain; charset=utf-8", statusCode: StatusCodes.Status400BadRequest);
        });
        return builder;
    }
}

/// <summary>Marks an endpoint whose antiforgery check <see cref="WebSecurity.RequireAntiforgery"/> enforces (a test lists every POST endpoint without it).</summary>
public sealed class AntiforgeryEnforced
{
    public static readonly AntiforgeryEnforced Instance = new();

    private AntiforgeryEnforced()
    {
    }
}
