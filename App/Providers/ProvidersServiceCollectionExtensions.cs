using AgentSpace.Components.Layout;
using AgentSpace.Tenancy;
using MudBlazor;

namespace AgentSpace.Providers;

public static class ProvidersServiceCollectionExtensions
{
    public static IServiceCollection AddProviders(this IServiceCollection services)
    {
        services.AddModelHttp();
        services.AddSingleton<ProviderConnector>();
        services.AddScoped<IModelGateway, ModelGateway>();
        services.AddSingleton<ModelClientCache>();
        services.AddScoped<ProviderService>();
        services.AddOrgNavItem(new OrgNavItem("Models", "settings/models", Icons.Material.Outlined.Hub, OrgRole.Admin, 950));
        return services;
    }
}
