using AgentSpace.Components.Layout;
using MudBlazor;

namespace AgentSpace.Tenancy;

public static class TenancyServiceCollectionExtensions
{
    public static IServiceCollection AddTenancy(this IServiceCollection services)
    {
        services.AddOptions<TenancyOptions>()
            .BindConfiguration(TenancyOptions.Section)
            .Validate(o => o.DenialWindow > TimeSpan.Zero && o.RateLimits.Window > TimeSpan.Zero,
                "Tenancy:DenialWindow and Tenancy:RateLimits:Window must be positive.")
            .Validate(o => o.RateLimits is { OrganizationsPerUser: > 0, OrganizationsPerIp: > 0, InvitationsPerUser: > 0, InvitationsPerOrganization: > 0, InvitationsPerIp: > 0 },
                "Every Tenancy:RateLimits limit must be at least 1.")
            .ValidateOnStart();
        services.AddSingleton<AccessDenials>();
        services.AddHostedService<AccessDenialFlusher>();
        services.AddSingleton<TenancyRateLimits>();
        services.AddScoped<OrganizationAccess>();
        services.AddScoped<TenantOperation>();
        services.AddScoped<OrganizationService>();
        services.AddScoped<MemberService>();
        services.AddTenancyAdminCommands();
        services.AddOrgNavItem(new OrgNavItem("Dashboard", "", Icons.Material.Outlined.Dashboard, OrgRole.Viewer, 0));
        services.AddOrgNavItem(new OrgNavItem("Members", "members", Icons.Material.Outlined.People, OrgRole.Viewer, 10));
        services.AddOrgNavItem(new OrgNavItem("Settings", "settings", Icons.Material.Outlined.Settings, OrgRole.Viewer, 1000));
        return services;
    }
}
