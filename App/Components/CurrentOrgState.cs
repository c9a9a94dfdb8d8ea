using AgentSpace.Identity;
using AgentSpace.Tenancy;

namespace AgentSpace.Components;

/// <summary>
/// The signed-in user's organizations for the layout (switcher, nav drawer). One per circuit; pages
/// call <see cref="RefreshAsync"/> after they create, rename, delete or leave an organization.
/// </summary>
public sealed class CurrentOrgState(OrganizationService organizations, ActorAccessor actors)
{
    public IReadOnlyList<OrgSummary> Mine { get; private set; } = [];

    public bool Loaded { get; private set; }

    public event Action? Changed;

    public OrgSummary? Find(string? slug) =>
        slug is null ? null : Mine.FirstOrDefault(o => string.Equals(o.Slug, slug, StringComparison.Ordinal));

    public async Task RefreshAsync(CancellationToken ct = default)
    {
        var user = await actors.GetUserAsync();
        var actor = SessionService.ActorOf(user, null);
        Mine = actor is null ? [] : await organizations.ListMineAsync(actor, ct);
        Loaded = true;
        Changed?.Invoke();
    }

    /// <summary>Keeps the drawer in step with what a page just loaded (a renamed organization, a changed role).</summary>
    public void Observe(OrgContext org)
    {
        ArgumentNullException.ThrowIfNull(org);
        var known = Find(org.Slug);
        if (known is not null && known.Name == org.Name && known.Role == org.Role)
        {
            return;
        }
        var updated = new OrgSummary(org.Id, org.Slug, org.Name, org.Role);
        Mine = [.. Mine.Where(o => o.Id != org.Id).Append(updated).OrderBy(o => o.Name, StringComparer.CurrentCulture)];
        Changed?.Invoke();
    }

    /// <summary>The slug of a <c>/o/{slug}/...</c> path relative to the base URI, or null elsewhere.</summary>
    public static string? SlugFromPath(string relativePath)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        var path = relativePath.Split('?', '#')[0];
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && parts[0] == "o" ? Uri.UnescapeDataString(parts[1]) : null;
    }
}
