using AgentSpace.Audit;
using AgentSpace.Components.Layout;
using AgentSpace.Tenancy;
using Bunit;

namespace AgentSpace.Tests.Components;

/// <summary>The drawer lists what the features registered, and only what the member's role can use.</summary>
public sealed class NavMenuTests : ComponentTestBase
{
    public NavMenuTests()
    {
        Services.AddTenancy();
        Services.AddAudit();
    }

    private IRenderedComponent<NavMenu> RenderAs(OrgRole role) =>
        Render<NavMenu>(p => p
            .Add(x => x.CurrentSlug, "acme")
            .Add(x => x.Current, new OrgSummary(Guid.NewGuid(), "acme", "Acme", role)));

    [Fact]
    public void Drawer_AsViewer_ListsFeaturePagesButNotTheAuditLog()
    {
        var links = RenderAs(OrgRole.Viewer).FindAll("a").Select(a => a.GetAttribute("href")).ToList();
        Assert.Equal(["/orgs", "/o/acme", "/o/acme/members", "/o/acme/settings"], links);
    }

    [Fact]
    public void Drawer_AsAdmin_AddsTheAuditLogBeforeSettings()
    {
        var links = RenderAs(OrgRole.Admin).FindAll("a").Select(a => a.GetAttribute("href")).ToList();
        Assert.Equal(["/orgs", "/o/acme", "/o/acme/members", "/o/acme/audit", "/o/acme/settings"], links);
    }

    [Fact]
    public void Drawer_OutsideAnOrganization_ListsOnlyOrganizations()
    {
        var cut = Render<NavMenu>();
        Assert.Equal(["/orgs"], cut.FindAll("a").Select(a => a.GetAttribute("href")).ToList());
    }
}
