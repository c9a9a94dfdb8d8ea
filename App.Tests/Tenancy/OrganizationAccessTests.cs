using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Tenancy;

/// <summary>Roles are enforced by the services, not only by hidden buttons; probes of other organizations look like not-found and are audited.</summary>
public sealed class OrganizationAccessTests(AppServices app) : IClassFixture<AppServices>
{
    private static string Slug(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private Task<Actor> UserAsync(string name) => app.CreateUserAsync($"{name}-{Guid.NewGuid():N}@example.com");

    private Task<OrgSummary> CreateOrgAsync(Actor owner, string? slug = null) =>
        app.WithAsync<OrganizationService, OrgSummary>(s => s.CreateAsync(owner, slug ?? Slug("org"), "Org " + owner.Email, default));

    private async Task<Actor> MemberWithRoleAsync(Actor owner, OrgSummary org, OrgRole role)
    {
        var user = await UserAsync(role.ToString().ToLowerInvariant());
        await using var db = await app.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = user.UserId, Role = role, JoinedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
        return user;
    }

    private async Task<List<AuditEvent>> AuditOfAsync(Actor owner, string slug) =>
        [.. (await app.WithAsync<AuditService, AuditPage>(s => s.SearchAsync(owner, slug, new AuditFilter(), 1, 200, default))).Items];

    [Fact]
    public async Task MemberOfA_AsksForOrgBById_GetsNotFound_AndItIsAuditedInB()
    {
        var alice = await UserAsync("alice");
        var bob = await UserAsync("bob");
        var orgA = await CreateOrgAsync(alice);
        var orgB = await CreateOrgAsync(bob);

        await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<OrganizationAccess, OrgContext>(s => s.RequireByIdAsync(alice, orgB.Id, OrgRole.Viewer, "org.view", default)));
        await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<AuditService, AuditPage>(s => s.SearchAsync(alice, orgB.Slug, new AuditFilter(), 1, 10, default)));
        await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<AuditService, AuditEvent?>(s => s.GetAsync(alice, orgB.Slug, 1, default)));
        await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<MemberService, MemberList>(s => s.ListAsync(alice, orgB.Slug, default)));

        var denials = (await AuditOfAsync(bob, orgB.Slug)).Where(e => e.Action == TenancyAuditActions.AccessDenied && e.ActorId == alice.UserId).ToList();
        // One row per kind of probe (repeats within the window are counted, see AccessDenialAuditTests).
        Assert.Equal(["audit.read", "members.list", "org.view"], denials.Select(d => d.Target).Order(StringComparer.Ordinal));
        Assert.All(denials, d => Assert.Equal(AuditOutcome.Denied, d.Outcome));
        // A's own log knows nothing of B.
        Assert.DoesNotContain(await AuditOfAsync(alice, orgA.Slug), e => e.Action == TenancyAuditActions.AccessDenied);
    }

    [Fact]
    public async Task UnknownSlug_LooksExactlyLikeAForeignOne()
    {
        var alice = await UserAsync("alice");
        var e1 = await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(alice, "does-not-exist", default)));
        var bob = await UserAsync("bob");
        var orgB = await CreateOrgAsync(bob);
        var e2 = await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(alice, orgB.Slug, default)));
        Assert.Equal(e1.Message, e2.Message);
    }

    [Theory]
    [InlineData(OrgRole.Viewer)]
    [InlineData(OrgRole.Member)]
    public async Task BelowAdmin_CannotInviteReadAuditRenameOrDelete(OrgRole role)
    {
        var owner = await UserAsync("owner");
        var org = await CreateOrgAsync(owner);
        var user = await MemberWithRoleAsync(owner, org, role);

        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<MemberService>(s => s.InviteAsync(user, org.Slug, "x@example.com", OrgRole.Member, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AuditService, AuditPage>(s => s.SearchAsync(user, org.Slug, new AuditFilter(), 1, 10, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AuditService, string>(s => s.ExportCsvAsync(user, org.Slug, new AuditFilter(), default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<OrganizationService>(s => s.RenameAsync(user, org.Slug, "Hijacked", default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<OrganizationService>(s => s.DeleteAsync(user, org.Slug, org.Slug, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<MemberService>(s => s.ChangeRoleAsync(user, org.Slug, user.UserId, OrgRole.Owner, default)));

        var members = await app.WithAsync<MemberService, MemberList>(s => s.ListAsync(user, org.Slug, default));
        Assert.Equal(2, members.Members.Count);
        Assert.Empty(members.Invitations); // pending invitations are for admins only
        var denied = (await AuditOfAsync(owner, org.Slug)).Count(e => e.Action == TenancyAuditActions.AccessDenied && e.ActorId == user.UserId);
        Assert.Equal(6, denied);
    }

    [Fact]
    public async Task Admin_CannotDeleteOrTouchOwners()
    {
        var owner = await UserAsync("owner");
        var org = await CreateOrgAsync(owner);
        var admin = await MemberWithRoleAsync(owner, org, OrgRole.Admin);

        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<OrganizationService>(s => s.DeleteAsync(admin, org.Slug, org.Slug, default)));
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService>(s => s.RemoveAsync(admin, org.Slug, owner.UserId, default)));
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService>(s => s.ChangeRoleAsync(admin, org.Slug, owner.UserId, OrgRole.Member, default)));
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService>(s => s.InviteAsync(admin, org.Slug, "boss@example.com", OrgRole.Owner, default)));
        // But an admin can rename and read the audit log.
        await app.WithAsync<OrganizationService>(s => s.RenameAsync(admin, org.Slug, "Renamed", default));
        Assert.Contains(await AuditOfAsync(admin, org.Slug), e => e.Action == TenancyAuditActions.OrgRenamed);
    }

    [Fact]
    public async Task LastOwner_CannotLeaveOrBeDemoted()
    {
        var owner = await UserAsync("owner");
        var org = await CreateOrgAsync(owner);
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService>(s => s.LeaveAsync(owner, org.Slug, default)));
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService>(s => s.ChangeRoleAsync(owner, org.Slug, owner.UserId, OrgRole.Admin, default)));

        var second = await MemberWithRoleAsync(owner, org, OrgRole.Member);
        await app.WithAsync<MemberService>(s => s.ChangeRoleAsync(owner, org.Slug, second.UserId, OrgRole.Owner, default));
        await app.WithAsync<MemberService>(s => s.LeaveAsync(owner, org.Slug, default));
        await Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default)));
        var log = await AuditOfAsync(second, org.Slug);
        Assert.Contains(log, e => e.Action == TenancyAuditActions.MemberRoleChanged);
        Assert.Contains(log, e => e.Action == TenancyAuditActions.MemberLeft);
    }

    [Fact]
    public async Task Invitation_AcceptedByInvitedEmail_JoinsWithRole_ForwardedLinkFails()
    {
        var owner = await UserAsync("owner");
        var org = await CreateOrgAsync(owner);
        var invitee = await UserAsync("invitee");
        var stranger = await UserAsync("stranger");
        await app.WithAsync<MemberService>(s => s.InviteAsync(owner, org.Slug, invitee.Email.ToUpperInvariant(), OrgRole.Viewer, default));
        var token = await InvitationTokenFromMailAsync(invitee.Email);

        var forwarded = await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(stranger, token, default)));
        Assert.Contains("different email", forwarded.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(stranger, org.Slug, default)));

        var joined = await app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(invitee, token, default));
        Assert.Equal(OrgRole.Viewer, joined.Role);
        var ctx = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(invitee, org.Slug, default));
        Assert.Equal(OrgRole.Viewer, ctx.Role);

        // Single use.
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(invitee, token, default)));
        var log = await AuditOfAsync(owner, org.Slug);
        Assert.Contains(log, e => e.Action == TenancyAuditActions.MemberInvited && e.Target == invitee.Email);
        Assert.Contains(log, e => e.Action == TenancyAuditActions.MemberJoined && e.ActorId == invitee.UserId);
        Assert.Contains(log, e => e.Action == TenancyAuditActions.AccessDenied && e.ActorId == stranger.UserId);
    }

    [Fact]
    public async Task Invitation_Expired_Fails()
    {
        var owner = await UserAsync("owner");
        var org = await CreateOrgAsync(owner);
        var invitee = await UserAsync("late");
        await app.WithAsync<MemberService>(s => s.InviteAsync(owner, org.Slug, invitee.Email, OrgRole.Member, default));
        var token = await InvitationTokenFromMailAsync(invitee.Email);
        app.Clock.Advance(MemberService.InvitationLifetime + TimeSpan.FromMinutes(1));
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(invitee, token, default)));
    }

    [Fact]
    public async Task Create_SlugTakenOrInvalid_IsRefusedAndNothingProvisioned()
    {
        var owner = await UserAsync("owner");
        var slug = Slug("dup");
        await CreateOrgAsync(owner, slug);
        var schemasBefore = await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_namespace where nspname like 't\\_%'");

        var taken = await Assert.ThrowsAsync<OrgRuleException>(() => CreateOrgAsync(owner, slug));
        Assert.Contains("taken", taken.Message, StringComparison.Ordinal);
        foreach (var bad in new[] { "", "a", "-abc", "abc-", "ABC DEF", "admin", "x'; drop schema platform; --", new string('a', 41) })
        {
            await Assert.ThrowsAsync<OrgRuleException>(() => CreateOrgAsync(owner, bad));
        }
        var schemasAfter = await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_namespace where nspname like 't\\_%'");
        Assert.Equal(schemasBefore, schemasAfter);
    }

    [Theory]
    [InlineData("Acme\u202Eelgoog")]
    [InlineData("Ac\u200Bme")]
    [InlineData("Acme\u0007")]
    public void ValidateName_InvisibleOrDirectionCharacters_AreRefused(string name) =>
        Assert.NotNull(OrganizationService.ValidateName(name));

    [Fact]
    public async Task Delete_ByOwnerWithTypedSlug_DropsSchemaRoleAndMemberships()
    {
        var owner = await UserAsync("owner");
        var org = await CreateOrgAsync(owner);
        await MemberWithRoleAsync(owner, org, OrgRole.Member);
        var ctx = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default));

        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<OrganizationService>(s => s.DeleteAsync(owner, org.Slug, "wrong", default)));
        await app.WithAsync<OrganizationService>(s => s.DeleteAsync(owner, org.Slug, org.Slug, default));

        Assert.Equal(0, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_namespace where nspname = '{ctx.Schema.Value}'"));
        Assert.Equal(0, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from pg_roles where rolname = '{ctx.Schema.Value}'"));
        Assert.Equal(0, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.memberships where organization_id = '{org.Id}'"));
        Assert.Empty(await app.WithAsync<OrganizationService, IReadOnlyList<OrgSummary>>(s => s.ListMineAsync(owner, default)));
        Assert.Equal(1, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.audit_events where action = 'org.deleted' and target = '{org.Slug}'"));
    }

    private Task<string> InvitationTokenFromMailAsync(string email) => app.InvitationTokenFromMailAsync(email);
}
