namespace AgentSpace.Components;

public static class ComponentsServiceCollectionExtensions
{
    public static IServiceCollection AddAppComponents(this IServiceCollection services)
    {
        services.AddScoped<CurrentOrgState>();
        return services;
    }
}
