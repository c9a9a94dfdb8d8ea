using AgentSpace.Components.Layout;
using MudBlazor;

namespace AgentSpace.Tenancy;

public static class TenancyServiceCollectionExtensions
{
    public static IServiceCollection AddTenancy(this IServiceCollection services)
    {
        services.AddScoped<OrganizationAccess>();
        services.AddScoped<OrganizationService>();
        services.AddScoped<MemberService>();
        services.AddTenancyAdminCommands();
        services.AddOrgNavItem(new OrgNavItem("Dashboard", "", Icons.Material.Outlined.Dashboard, OrgRole.Viewer, 0));
        services.AddOrgNavItem(new OrgNavItem("Members", "members", Icons.Material.Outlined.People, OrgRole.Viewer, 10));
        services.AddOrgNavItem(new OrgNavItem("Settings", "settings", Icons.Material.Outlined.Settings, OrgRole.Viewer, 1000));
        return services;
    }
}
