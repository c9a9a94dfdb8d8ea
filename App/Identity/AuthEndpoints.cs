using AgentSpace.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;

namespace AgentSpace.Identity;

/// <summary>
/// Form posts for sign-in and sign-out. Every one needs the antiforgery token, including those that bind
/// no form field (UseAntiforgery alone checks only endpoints that read the form), and every one is behind
/// the per-client rate limit.
/// </summary>
public static class AuthEndpoints
{
    public static IEndpointRouteBuilder MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/auth");
        auth.RequireAntiforgery();
        auth.RequireRateLimiting(AuthPostRateLimitPolicy.Name);

        auth.MapPost("/magic-link", async ([FromForm] string? email, [FromForm] string? returnUrl, HttpContext http, MagicLinkService links) =>
        {
            var result = await links.RequestAsync(email, ClientIp(http), returnUrl, http.RequestAborted);
            return result switch
            {
                MagicLinkRequestResult.Sent => Results.Redirect("/signin/sent"),
                MagicLinkRequestResult.RateLimited => Results.Redirect("/signin?error=rate-limited"),
                MagicLinkRequestResult.EmailUnavailable => Results.Redirect("/signin?error=email-unavailable"),
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
            // The token is spent by now: an unusable return URL is dropped, never an error that loses the sign-in.
            return Results.LocalRedirect(MagicLinkService.IsLocalReturnUrl(returnUrl) ? returnUrl! : "/orgs");
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
}
