using System.Threading.RateLimiting;
using AgentSpace.Data;
using AgentSpace.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

public static class IdentityServiceCollectionExtensions
{
    public const string CookieName = "__Host-agentspace";

    public static IServiceCollection AddMagicLinkIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SignInOptions>(configuration.GetSection(SignInOptions.Section));
        services.AddPublicUrl(configuration);

        // Identity's own look-ups (UserManager) use the same one form as the app's: never culture upper-casing.
        services.AddSingleton<ILookupNormalizer, EmailLookupNormalizer>();
        services.AddIdentityCore<AppUser>(o => o.User.RequireUniqueEmail = true)
            .AddEntityFrameworkStores<PlatformDbContext>();

        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.Cookie.Name = CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.Path = "/";
                o.LoginPath = "/signin";
                o.AccessDeniedPath = "/signin";
                o.ReturnUrlParameter = "returnUrl";
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.Events.OnValidatePrincipal = async context =>
                {
                    var sessions = context.HttpContext.RequestServices.GetRequiredService<SessionService>();
                    // Only what a person does counts as use: a page, a form, an API call. Static files and the
                    // Blazor hub's own traffic (a long-polling tab asks every few seconds) do not keep an idle
                    // session alive; the circuit's revalidation counts its own activity.
                    var recordUse = IsPersonRequest(context.HttpContext.Request);
                    if (context.Principal is null || !await sessions.IsActiveAsync(context.Principal, recordUse, context.HttpContext.RequestAborted))
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                    }
                };
            });
        services.AddAuthorization();
        services.AddAntiforgery(o =>
        {
            // SameAsRequest only because antiforgery refuses to issue a Secure-only cookie on a
            // plain-http request (local development on http://127.0.0.1); the cookie policy below
            // marks it Secure anyway, which browsers accept from localhost and 127.0.0.1.
            o.Cookie.Name = "__Host-agentspace-af";
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.HttpOnly = true;
        });
        // Every cookie the app sets is Secure (so __Host- names are valid) and at least SameSite=Lax.
        services.AddCookiePolicy(o =>
        {
            o.Secure = CookieSecurePolicy.Always;
            o.MinimumSameSitePolicy = SameSiteMode.Lax;
            o.HttpOnly = Microsoft.AspNetCore.CookiePolicy.HttpOnlyPolicy.Always;
        });
        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, SessionRevalidatingAuthenticationStateProvider>();
        services.AddScoped<CircuitRequestInfo>();
        services.AddScoped<CircuitActivity>();
        services.AddScoped<CircuitHandler>(sp => sp.GetRequiredService<CircuitActivity>());
        services.AddScoped<ActorAccessor>();
        services.AddScoped<MagicLinkService>();
        services.AddScoped<SessionService>();
        services.AddSingleton<SignInHousekeeping>();
        services.AddHostedService<SignInHousekeepingService>();
        services.AddIdentityAdminCommands();
        services.AddRateLimiter(o => o.AddPolicy<string, AuthPostRateLimitPolicy>(AuthPostRateLimitPolicy.Name));
        return services;
    }

    /// <summary>False for static files (a dot in the last path segment) and the framework's own endpoints.</summary>
    internal static bool IsPersonRequest(HttpRequest request)
    {
        var path = request.Path;
        if (path.StartsWithSegments("/_blazor") || path.StartsWithSegments("/_framework") || path.StartsWithSegments("/_content"))
        {
            return false;
        }
        var value = path.Value ?? "";
        return !value[(value.LastIndexOf('/') + 1)..].Contains('.', StringComparison.Ordinal);
    }
}

/// <summary>Identity's normalizer, mapped onto <see cref="EmailAddress.Normalize"/> (names are email addresses here).</summary>
internal sealed class EmailLookupNormalizer : ILookupNormalizer
{
    public string? NormalizeEmail(string? email) => EmailAddress.Normalize(email) ?? email;

    public string? NormalizeName(string? name) => EmailAddress.Normalize(name) ?? name;
}

/// <summary>
/// Per client address (IPv6 by /64), a fixed number of /auth POSTs a minute. Past it, 429 before any
/// database work or audit row: sign-in floods cannot grow the platform audit chain or hold its lock.
/// </summary>
internal sealed class AuthPostRateLimitPolicy(IOptions<SignInOptions> options) : IRateLimiterPolicy<string>
{
    public const string Name = "auth-posts";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = async (context, ct) =>
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        response.Headers.RetryAfter = "60";
        response.ContentType = "text/plain; charset=utf-8";
        await response.WriteAsync("Too many sign-in requests from your network. Wait a minute and try again.", ct);
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        RateLimitPartition.GetFixedWindowLimiter(ClientAddress.Bucket(httpContext.Connection.RemoteIpAddress), _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, options.Value.MaxAuthPostsPerIpPerMinute),
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        });
}
