using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Tenancy;

/// <summary>An invitation is only as good as its sender's authority: when an Admin stops being one, the links they sent stop working.</summary>
public sealed class InvitationAuthorityTests(AppServices app) : IClassFixture<AppServices>
{
    public enum Exit
    {
        DemotedToMember,
        Removed,
        Left,
    }

    [Theory]
    [InlineData(Exit.DemotedToMember)]
    [InlineData(Exit.Removed)]
    [InlineData(Exit.Left)]
    public async Task AdminLosesAuthority_TheLinksTheySentStopWorking(Exit exit)
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        var invitee = await app.NewUserAsync("invitee");
        var ownersGuest = await app.NewUserAsync("owners-guest");
        await InviteAsync(admin, org, invitee.Email, OrgRole.Member);
        await InviteAsync(owner, org, ownersGuest.Email, OrgRole.Viewer);
        var token = await app.InvitationTokenFromMailAsync(invitee.Email);
        var ownersToken = await app.InvitationTokenFromMailAsync(ownersGuest.Email);

        await (exit switch
        {
            Exit.DemotedToMember => app.WithAsync<MemberService>(s => s.ChangeRoleAsync(owner, org.Slug, admin.UserId, OrgRole.Member, default)),
            Exit.Removed => app.WithAsync<MemberService>(s => s.RemoveAsync(owner, org.Slug, admin.UserId, default)),
            _ => app.WithAsync<MemberService>(s => s.LeaveAsync(admin, org.Slug, default)),
        });

        var preview = await app.WithAsync<MemberService, InvitationPreview?>(s => s.PreviewAsync(token, default));
        Assert.False(preview!.Usable);
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(invitee, token, default)));
        await Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(invitee, org.Slug, default)));
        // The owner's own invitation is untouched.
        Assert.Equal(OrgRole.Viewer, (await app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(ownersGuest, ownersToken, default))).Role);

        var log = await app.AuditLogAsync(owner, org.Slug);
        var revoked = Assert.Single(log, e => e.Action == TenancyAuditActions.InvitationRevoked && e.Target == invitee.Email);
        Assert.Contains("\"invited_by\"", revoked.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SenderSuspended_TheLinksTheySentStopWorking_ResumedTheyWorkAgain()
    {
        var (_, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        var invitee = await app.NewUserAsync("invitee");
        await InviteAsync(admin, org, invitee.Email, OrgRole.Member);
        var token = await app.InvitationTokenFromMailAsync(invitee.Email);

        // Suspension is the lever for a compromised account: what it sent must not let anyone in meanwhile.
        await app.WithAsync<SessionService>(s => s.SuspendAsync(admin.UserId, default));
        var refused = await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(invitee, token, default)));
        Assert.Contains("can no longer invite", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(invitee, org.Slug, default)));

        await app.WithAsync<SessionService>(s => s.ResumeAsync(admin.UserId, default));
        Assert.Equal(OrgRole.Member, (await app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(invitee, token, default))).Role);
    }

    [Fact]
    public async Task OwnerDemotedToAdmin_LosesOnlyTheOwnerInvitationsTheySent()
    {
        var (first, org, second) = await app.OrgWithMemberAsync(OrgRole.Owner);
        var futureOwner = await app.NewUserAsync("future-owner");
        var member = await app.NewUserAsync("member");
        await InviteAsync(second, org, futureOwner.Email, OrgRole.Owner);
        await InviteAsync(second, org, member.Email, OrgRole.Member);
        var ownerToken = await app.InvitationTokenFromMailAsync(futureOwner.Email);
        var memberToken = await app.InvitationTokenFromMailAsync(member.Email);

        await app.WithAsync<MemberService>(s => s.ChangeRoleAsync(first, org.Slug, second.UserId, OrgRole.Admin, default));

        // An Admin could not send an Owner invitation, so it does not outlive the demotion; the Member one does.
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(futureOwner, ownerToken, default)));
        Assert.Equal(OrgRole.Member, (await app.WithAsync<MemberService, OrgSummary>(s => s.AcceptAsync(member, memberToken, default))).Role);
    }

    private Task InviteAsync(Actor from, OrgSummary org, string email, OrgRole role) =>
        app.WithAsync<MemberService>(s => s.InviteAsync(from, org.Slug, email, role, default));
}
