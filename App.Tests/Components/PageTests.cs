using System.Security.Claims;
using AgentSpace.Audit;
using AgentSpace.Components;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tenancy.Pages;
using AgentSpace.Tests.Infrastructure;
using Bunit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentSpace.Tests.Components;

/// <summary>
/// Pages rendered with bUnit over the real services and a real database: what each role is shown.
/// (The services refuse regardless; these check the page does not offer what the role cannot do.)
/// </summary>
public sealed class PageTests(AppServices data) : ComponentTestBase, IClassFixture<AppServices>
{
    private void UseAppServicesAs(Actor actor)
    {
        var configuration = data.Configuration;
        Services.AddSingleton(configuration);
        Services.AddSingleton<IHostEnvironment>(data.Services.GetRequiredService<IHostEnvironment>());
        Services.AddLogging();
        Services.AddAppFeatures(configuration);
        var auth = AddAuthorization();
        auth.SetAuthorized(actor.Email);
        auth.SetClaims(
            new Claim(ClaimTypes.NameIdentifier, actor.UserId.ToString()),
            new Claim(ClaimTypes.Email, actor.Email),
            new Claim(SessionService.SessionClaim, Guid.NewGuid().ToString()));
    }

    private async Task<(Actor Owner, OrgSummary Org)> OrgAsync()
    {
        var owner = await data.CreateUserAsync($"owner-{Guid.NewGuid():N}@example.com");
        var org = await data.WithAsync<OrganizationService, OrgSummary>(s => s.CreateAsync(owner, "page-" + Guid.NewGuid().ToString("N")[..8], "Page Org", default));
        return (owner, org);
    }

    private async Task<Actor> MemberAsync(OrgSummary org, OrgRole role)
    {
        var user = await data.CreateUserAsync($"{role.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}@example.com");
        await using var db = await data.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = user.UserId, Role = role, JoinedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
        return user;
    }

    [Fact]
    public async Task Members_AsViewer_ListsMembersButOffersNoManagement()
    {
        var (owner, org) = await OrgAsync();
        var viewer = await MemberAsync(org, OrgRole.Viewer);
        UseAppServicesAs(viewer);

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
        var (_, org) = await OrgAsync();
        var admin = await MemberAsync(org, OrgRole.Admin);
        UseAppServicesAs(admin);

        var cut = Render<Members>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("Send invitation", cut.Markup, StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AuditLog_AsMember_ExplainsAndShowsNoEvents()
    {
        var (_, org) = await OrgAsync();
        var member = await MemberAsync(org, OrgRole.Member);
        UseAppServicesAs(member);

        var cut = Render<AgentSpace.Audit.Pages.AuditLog>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("Only Admins and Owners can read the audit log.", cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("org.created", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Verify integrity", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dashboard_ForNonMember_ShowsNotFoundAndNothingOfTheOrganization()
    {
        var (_, org) = await OrgAsync();
        var stranger = await data.CreateUserAsync($"stranger-{Guid.NewGuid():N}@example.com");
        UseAppServicesAs(stranger);

        var cut = Render<Dashboard>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("Organization not found", cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("Page Org", cut.Markup, StringComparison.Ordinal);
    }
}
