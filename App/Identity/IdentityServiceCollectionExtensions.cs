using AgentSpace.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;

namespace AgentSpace.Identity;

public static class IdentityServiceCollectionExtensions
{
    public const string CookieName = "__Host-agentspace";

    public static IServiceCollection AddMagicLinkIdentity(this IServiceCollection services, IConfiguration configuration, bool development)
    {
        services.Configure<SignInOptions>(configuration.GetSection(SignInOptions.Section));
        services.Configure<AppOptions>(configuration.GetSection(AppOptions.Section));

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
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.Events.OnValidatePrincipal = async context =>
                {
                    var sessions = context.HttpContext.RequestServices.GetRequiredService<SessionService>();
                    if (context.Principal is null || !await sessions.IsActiveAsync(context.Principal, context.HttpContext.RequestAborted))
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                    }
                };
            });
        services.AddAuthorization();
        services.AddAntiforgery(o =>
        {
            // Antiforgery refuses to issue a Secure-only cookie on a plain-http request, so local
            // development over http://127.0.0.1 gets an unprefixed cookie; everywhere else it is
            // __Host- and Secure. (The session cookie stays __Host-/Secure: browsers accept Secure
            // cookies from http://localhost and 127.0.0.1.)
            o.Cookie.Name = development ? "agentspace-af" : "__Host-agentspace-af";
            o.Cookie.SecurePolicy = development ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.HttpOnly = true;
        });

        services.AddCascadingAuthenticationState();
        services.AddScoped<AuthenticationStateProvider, SessionRevalidatingAuthenticationStateProvider>();
        services.AddScoped<CircuitRequestInfo>();
        services.AddScoped<ActorAccessor>();
        services.AddScoped<MagicLinkService>();
        services.AddScoped<SessionService>();
        return services;
    }
}
