using AgentSpace.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;

namespace AgentSpace.Identity;

public static class IdentityServiceCollectionExtensions
{
    public const string CookieName = "__Host-agentspace";

    public static IServiceCollection AddMagicLinkIdentity(this IServiceCollection services, IConfiguration configuration)
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
                o.ReturnUrlParameter = "returnUrl";
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
        services.AddScoped<ActorAccessor>();
        services.AddScoped<MagicLinkService>();
        services.AddScoped<SessionService>();
        services.AddSingleton<SignInHousekeeping>();
        services.AddHostedService<SignInHousekeepingService>();
        services.AddIdentityAdminCommands();
        return services;
    }
}
