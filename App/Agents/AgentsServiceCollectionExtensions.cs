using AgentSpace.Components.Layout;
using AgentSpace.Tenancy;
using MudBlazor;

namespace AgentSpace.Agents;

public static class AgentsServiceCollectionExtensions
{
    public static IServiceCollection AddAgents(this IServiceCollection services)
    {
        services.AddScoped<AgentService>();
        services.AddOrgNavItem(new OrgNavItem("Agents", "agents", Icons.Material.Outlined.SmartToy, OrgRole.Viewer, 20));
        return services;
    }
}
