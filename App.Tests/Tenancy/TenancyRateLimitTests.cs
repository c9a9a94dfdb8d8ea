using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Tenancy;

/// <summary>The app with the tenancy limits at their defaults for organizations, and small ones for invitations.</summary>
public sealed class RateLimitedAppServices : AppServices
{
    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Tenancy:RateLimits:OrganizationsPerUser"] = "10",
        ["Tenancy:RateLimits:OrganizationsPerIp"] = "12",
        ["Tenancy:RateLimits:InvitationsPerUser"] = "3",
        ["Tenancy:RateLimits:InvitationsPerOrganization"] = "5",
        ["Tenancy:RateLimits:InvitationsPerIp"] = "4",
    };
}

/// <summary>
/// Creating organizations and sending invitations is limited per user, per organization and per network,
/// in the service itself (Blazor circuit actions never pass through HTTP middleware). A refusal says so
/// in a sentence and changes nothing.
/// </summary>
public sealed class TenancyRateLimitTests(RateLimitedAppServices app) : IClassFixture<RateLimitedAppServices>
{
    private Task<long> TenantSchemaCountAsync() =>
        app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_namespace where nspname like 't\\_%'");

    [Fact]
    public async Task Create_EleventhByOneUserWithinTheWindow_IsRefusedAndNothingProvisioned()
    {
        var user = await app.NewUserAsync("creator", ip: "198.51.100.10");
        for (var i = 0; i < 10; i++)
        {
            await app.CreateOrgAsync(user);
        }
        var schemas = await TenantSchemaCountAsync();
        var slug = "eleventh-" + Guid.NewGuid().ToString("N")[..8];

        var refused = await Assert.ThrowsAsync<RateLimitedException>(() => app.CreateOrgAsync(user, slug));

        Assert.Equal(429, refused.StatusCode);
        Assert.Contains("Try again later", refused.Message, StringComparison.Ordinal);
        Assert.Equal(schemas, await TenantSchemaCountAsync());
        Assert.Equal(10, (await app.WithAsync<OrganizationService, IReadOnlyList<OrgSummary>>(s => s.ListMineAsync(user, default))).Count);
        Assert.Equal(0, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.organizations where slug = '{slug}'"));
    }

    [Fact]
    public async Task Create_ManyUsersFromOneNetwork_AreLimitedTogether()
    {
        // Two addresses in one IPv6 /64 are one network.
        var first = await app.NewUserAsync("net-a", ip: "2001:db8:5:6::10");
        var second = await app.NewUserAsync("net-b", ip: "2001:db8:5:6::20");
        var elsewhere = await app.NewUserAsync("net-c", ip: "2001:db8:5:7::10");
        for (var i = 0; i < 6; i++)
        {
            await app.CreateOrgAsync(first);
            await app.CreateOrgAsync(second);
        }

        var refused = await Assert.ThrowsAsync<RateLimitedException>(() => app.CreateOrgAsync(second));
        Assert.Contains("network", refused.Message, StringComparison.Ordinal);
        await app.CreateOrgAsync(elsewhere);
    }

    [Fact]
    public async Task Invite_BeyondTheLimitPerUser_IsRefusedAndNothingSent()
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        admin = admin with { Ip = "198.51.100.20" };
        for (var i = 0; i < 3; i++)
        {
            await InviteAsync(admin, org, $"guest{i}-{Guid.NewGuid():N}@example.com");
        }
        var extra = $"extra-{Guid.NewGuid():N}@example.com";

        var refused = await Assert.ThrowsAsync<RateLimitedException>(() => InviteAsync(admin, org, extra));

        Assert.Equal(429, refused.StatusCode);
        Assert.Contains("invitations", refused.Message, StringComparison.Ordinal);
        var pending = (await app.WithAsync<MemberService, MemberList>(s => s.ListAsync(owner, org.Slug, default))).Invitations;
        Assert.Equal(3, pending.Count);
        Assert.DoesNotContain(pending, i => i.Email == extra);
        await Task.Delay(300);
        Assert.Equal(0, await app.MailCountAsync(extra));
    }

    [Fact]
    public async Task Invite_BeyondTheLimitPerOrganization_IsRefusedForEveryAdmin()
    {
        var (owner, org, first) = await app.OrgWithMemberAsync(OrgRole.Admin);
        first = first with { Ip = "198.51.100.30" };
        var second = (await app.AddMemberAsync(org, OrgRole.Admin)) with { Ip = "198.51.100.31" };
        for (var i = 0; i < 3; i++)
        {
            await InviteAsync(first, org, $"a{i}-{Guid.NewGuid():N}@example.com");
        }
        await InviteAsync(second, org, $"b0-{Guid.NewGuid():N}@example.com");
        await InviteAsync(second, org, $"b1-{Guid.NewGuid():N}@example.com");

        // The second admin has sent two of their three, but the organization has sent its five.
        var refused = await Assert.ThrowsAsync<RateLimitedException>(() => InviteAsync(second, org, $"b2-{Guid.NewGuid():N}@example.com"));
        Assert.Contains("organization", refused.Message, StringComparison.Ordinal);
        Assert.Equal(5, (await app.WithAsync<MemberService, MemberList>(s => s.ListAsync(owner, org.Slug, default))).Invitations.Count);
    }

    [Fact]
    public async Task Invite_FromOneNetworkAcrossOrganizations_IsLimitedTogether()
    {
        var one = await app.OrgWithMemberAsync(OrgRole.Admin);
        var two = await app.OrgWithMemberAsync(OrgRole.Admin);
        var adminOne = one.Member with { Ip = "198.51.100.40" };
        var adminTwo = two.Member with { Ip = "198.51.100.40" };
        await InviteAsync(adminOne, one.Org, $"n0-{Guid.NewGuid():N}@example.com");
        await InviteAsync(adminOne, one.Org, $"n1-{Guid.NewGuid():N}@example.com");
        await InviteAsync(adminTwo, two.Org, $"n2-{Guid.NewGuid():N}@example.com");
        await InviteAsync(adminTwo, two.Org, $"n3-{Guid.NewGuid():N}@example.com");

        var refused = await Assert.ThrowsAsync<RateLimitedException>(() => InviteAsync(adminTwo, two.Org, $"n4-{Guid.NewGuid():N}@example.com"));
        Assert.Contains("network", refused.Message, StringComparison.Ordinal);
    }

    private Task InviteAsync(Actor admin, OrgSummary org, string email) =>
        app.WithAsync<MemberService>(s => s.InviteAsync(admin, org.Slug, email, OrgRole.Member, default));
}
