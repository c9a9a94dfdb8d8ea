using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

/// <summary>Form posts for sign-in and sign-out. Every form carries an antiforgery token (checked by UseAntiforgery).</summary>
public static class AuthEndpoints
{
    public static IEndpointRouteBuilder MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/auth");

        auth.MapPost("/magic-link", async ([FromForm] string? email, [FromForm] string? returnUrl, HttpContext http, MagicLinkService links, IOptions<AppOptions> appOptions) =>
        {
            var result = await links.RequestAsync(email, ClientIp(http), BaseUrl(http, appOptions.Value), returnUrl, http.RequestAborted);
            return result switch
            {
                MagicLinkRequestResult.Sent => Results.Redirect("/signin/sent"),
                MagicLinkRequestResult.RateLimited => Results.Redirect("/signin?error=rate-limited"),
                _ => Results.Redirect("/signin?error=invalid-email"),
            };
        });

        auth.MapPost("/redeem", async ([FromForm] string? email, [FromForm] string? token, [FromForm] string? returnUrl, HttpContext http, MagicLinkService links, SessionService sessions) =>
        {
            var ip = ClientIp(http);
            var result = await links.RedeemAsync(email, token, ip, http.RequestAborted);
            if (!result.Ok)
            {
                return Results.Redirect("/signin?error=link");
            }
            // A fresh cookie (and server-side session) at every sign-in; any earlier one is ended first.
            if (http.User.Identity?.IsAuthenticated == true)
            {
                await sessions.EndAsync(http.User, ip, http.RequestAborted);
            }
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            var principal = await sessions.StartAsync(result.User!, ip, http.Request.Headers.UserAgent.ToString(), http.RequestAborted);
            await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal, new AuthenticationProperties { IsPersistent = true });
            return Results.Redirect(MagicLinkService.IsLocalReturnUrl(returnUrl) ? returnUrl! : "/orgs");
        });

        auth.MapPost("/signout", async (HttpContext http, SessionService sessions) =>
        {
            await sessions.EndAsync(http.User, ClientIp(http), http.RequestAborted);
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/signin?signedout=1");
        });

        auth.MapPost("/signout-everywhere", async (HttpContext http, SessionService sessions) =>
        {
            if (SessionService.TryRead(http.User, out var userId, out _))
            {
                await sessions.EndAllAsync(userId, http.User.FindFirst(System.Security.Claims.ClaimTypes.Email)?.Value, ClientIp(http), http.RequestAborted);
            }
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/signin?signedout=all");
        }).RequireAuthorization();

        return app;
    }

    public static string? ClientIp(HttpContext http) => http.Connection.RemoteIpAddress?.ToString();

    public static string BaseUrl(HttpContext http, AppOptions options) =>
        !string.IsNullOrWhiteSpace(options.PublicBaseUrl)
            ? options.PublicBaseUrl.TrimEnd('/')
            : $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}";
}
