using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Bunit;

namespace AgentSpace.Tests.Audit;

/// <summary>What each role is shown on the audit log page.</summary>
public sealed class AuditPageTests(AppServices data) : PageTestBase(data), IClassFixture<AppServices>
{
    [Fact]
    public async Task AuditLog_AsMember_ExplainsAndShowsNoEvents()
    {
        var (_, org, member) = await Data.OrgWithMemberAsync(OrgRole.Member);
        SignInAs(member);

        var cut = Render<AgentSpace.Audit.Pages.AuditLog>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("Only Admins and Owners can read the audit log.", cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("org.created", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Verify integrity", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditLog_AsAdmin_ListsEventsAndOffersVerification()
    {
        var (_, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        SignInAs(admin);

        var cut = Render<AgentSpace.Audit.Pages.AuditLog>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("org.created", cut.Markup, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Contains("Verify integrity", cut.Markup, StringComparison.Ordinal);
    }
}
