using AgentSpace.Tenancy;
using AgentSpace.Tenancy.Pages;
using AgentSpace.Tests.Infrastructure;
using Bunit;

namespace AgentSpace.Tests.Tenancy;

/// <summary>
/// What each role is shown on the organization pages. (The services refuse regardless; these check the
/// page does not offer what the role cannot do, and shows a stranger nothing.)
/// </summary>
public sealed class TenancyPageTests(AppServices data) : PageTestBase(data), IClassFixture<AppServices>
{
    [Fact]
    public async Task Members_AsViewer_ListsMembersButOffersNoManagement()
    {
        var (owner, org, viewer) = await Data.OrgWithMemberAsync(OrgRole.Viewer);
        SignInAs(viewer);

        var cut = Render<Members>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains(owner.Email, cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Contains(viewer.Email, cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Send invitation", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Pending invitations", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll($"[aria-label='Remove {owner.Email}']"));
    }

    [Fact]
    public async Task Members_AsAdmin_OffersInvitationForm()
    {
        var (_, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        SignInAs(admin);

        var cut = Render<Members>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("Send invitation", cut.Markup, StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Dashboard_ForNonMember_ShowsNotFoundAndNothingOfTheOrganization()
    {
        var (_, org, _) = await Data.OrgWithMemberAsync(OrgRole.Member);
        var stranger = await Data.NewUserAsync("stranger");
        SignInAs(stranger);

        var cut = Render<Dashboard>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("Organization not found", cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(org.Name, cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain(org.Slug, cut.Markup, StringComparison.Ordinal);
    }
}
