using AgentSpace.Components.Layout;
using AgentSpace.Data;
using AgentSpace.Tenancy;
using MudBlazor;

namespace AgentSpace.Limits;

public static class LimitsServiceCollectionExtensions
{
    public static IServiceCollection AddLimits(this IServiceCollection services)
    {
        services.AddOptions<LimitsOptions>()
            .BindConfiguration(LimitsOptions.Section)
            .Validate(o => o.SlowDelay >= TimeSpan.Zero && o.SlowDelay <= TimeSpan.FromMinutes(1), "Limits:SlowDelay must be between 00:00:00 and 00:01:00.")
            .ValidateOnStart();
        // The ledger is append-only for the tenant's own role: spend cannot be rewritten to slip under a limit.
        services.AddTenantTableRule(new TenantTableRule("usage_records", TenantTableAccess.AppendOnly));
        services.AddSingleton<TokenCounter>();
        services.AddScoped<ICostGuard, CostGuard>();
        services.AddScoped<UsageService>();
        services.AddOrgNavItem(new OrgNavItem("Usage", "usage", Icons.Material.Outlined.QueryStats, OrgRole.Viewer, 500));
        return services;
    }
}
