using AgentSpace.Tenancy;

namespace AgentSpace.Components.Layout;

/// <summary>
/// A link a feature adds to an organization's navigation drawer, registered by the feature's own
/// <c>Add&lt;Feature&gt;()</c>, so the layout lists no feature by name.
/// </summary>
/// <param name="Title">The link text.</param>
/// <param name="Path">Below <c>/o/{slug}/</c>; empty for the organization's home.</param>
/// <param name="Icon">A MudBlazor icon.</param>
/// <param name="MinimumRole">Hidden from members below this role (the feature's service still checks).</param>
/// <param name="Order">Position in the drawer, ascending.</param>
public sealed record OrgNavItem(string Title, string Path, string Icon, OrgRole MinimumRole, int Order);

public static class OrgNavItemServiceCollectionExtensions
{
    public static IServiceCollection AddOrgNavItem(this IServiceCollection services, OrgNavItem item) =>
        services.AddSingleton(item);
}
