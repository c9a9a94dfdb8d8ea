namespace AgentSpace.Tenancy;

public static class TenancyServiceCollectionExtensions
{
    public static IServiceCollection AddTenancy(this IServiceCollection services)
    {
        services.AddScoped<OrganizationAccess>();
        services.AddScoped<OrganizationService>();
        services.AddScoped<MemberService>();
        return services;
    }
}
