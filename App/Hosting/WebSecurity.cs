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
            return !context.WebSockets.IsWebSocketRequest && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method));
        }
        // Host comparison (not scheme), so a TLS-terminating proxy in front does not break the check.
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }
}
