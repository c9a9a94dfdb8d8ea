using System.Net;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tenancy;

public sealed record MemberRow(Guid UserId, string Email, OrgRole Role, DateTimeOffset JoinedAt);

public sealed record InvitationRow(Guid Id, string Email, OrgRole Role, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

public sealed record MemberList(OrgContext Org, IReadOnlyList<MemberRow> Members, IReadOnlyList<InvitationRow> Invitations);

public sealed record InvitationPreview(string OrganizationName, string Email, OrgRole Role, bool Usable);

/// <summary>Members, roles and email-bound invitations. Every call checks the caller's role.</summary>
public sealed class MemberService(
    IDbContextFactory<PlatformDbContext> platformFactory,
    TenantOperation operations,
    AccessDenials denials,
    TenancyRateLimits limits,
    EmailQueue email,
    PublicUrl publicUrl,
    TimeProvider clock)
{
    public static readonly TimeSpan InvitationLifetime = TimeSpan.FromDays(7);

    public Task<MemberList> ListAsync(Actor actor, string slug, CancellationToken ct) =>
        operations.ReadPlatformAsync(actor, slug, OrgRole.Viewer, "members.list", async (org, db, token) =>
        {
            var members = await db.Memberships.AsNoTracking()
                .Where(m => m.OrganizationId == org.Id)
                .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new MemberRow(m.UserId, u.Email!, m.Role, m.JoinedAt))
                .ToListAsync(token);
            members = [.. members.OrderByDescending(m => m.Role).ThenBy(m => m.Email, StringComparer.Ordinal)];
            IReadOnlyList<InvitationRow> invitations = [];
            if (org.Can(OrgRole.Admin))
            {
                var now = clock.GetUtcNow();
                invitations = await db.Invitations.AsNoTracking()
                    .Where(i => i.OrganizationId == org.Id && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now)
                    .OrderBy(i => i.Email)
                    .Select(i => new InvitationRow(i.Id, i.Email, i.Role, i.CreatedAt, i.ExpiresAt))
                    .ToListAsync(token);
            }
            return new MemberList(org, members, invitations);
        }, ct);

    /// <summary>Invites an email address; the link works only for an account with that address.</summary>
    public async Task InviteAsync(Actor actor, string slug, string? rawEmail, OrgRole role, CancellationToken ct)
    {
        var (org, address, token) = await operations.ChangePlatformAsync(actor, slug, OrgRole.Admin, "members.invite",
            (change, innerCt) => CreateInvitationAsync(change, actor, rawEmail, role, innerCt), ct);

        // The mail goes out after the invitation has committed, outside any transaction.
        var link = publicUrl.For($"/invitations/accept?token={token}");
        email.Enqueue(new EmailMessage(address, $"You are invited to {org.Name} on AgentSpace",
            $"{actor.Email} invited you to join {org.Name} as {role}.\n\nAccept: {link}\n\nSign in with this email address ({address}) to accept. The invitation expires in 7 days.",
            $"<p>{WebUtility.HtmlEncode(actor.Email)} invited you to join <b>{WebUtility.HtmlEncode(org.Name)}</b> as {role}.</p><p><a href=\"{WebUtility.HtmlEncode(link)}\">Accept the invitation</a></p><p>Sign in with this email address ({WebUtility.HtmlEncode(address)}) to accept. The invitation expires in 7 days.</p>"));
    }

    private async Task<(OrgContext Org, string Address, string Token)> CreateInvitationAsync(PlatformChange change, Actor actor, string? rawEmail, OrgRole role, CancellationToken ct)
    {
        var (org, db) = (change.Org, change.Db);
        var address = EmailAddress.Normalize(rawEmail) ?? throw new OrgRuleException("Enter a valid email address.");
        if (role == OrgRole.Owner && org.Role != OrgRole.Owner)
        {
            throw new OrgRuleException("Only an Owner can invite another Owner.");
        }
        var alreadyMember = await db.Memberships.Where(m => m.OrganizationId == org.Id)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => u.NormalizedEmail)
            .AnyAsync(e => e == address, ct);
        if (alreadyMember)
        {
            throw new OrgRuleException($"{address} is already a member.");
        }
        limits.AcquireInvitation(actor, org.Id);
        var now = clock.GetUtcNow();
        // A new invitation replaces any open one for the same address.
        await db.Invitations.Where(i => i.OrganizationId == org.Id && i.Email == address && i.AcceptedAt == null && i.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.RevokedAt, now), ct);
        var (token, hash) = OpaqueToken.Create();
        db.Invitations.Add(new Invitation
        {
            Id = Guid.NewGuid(),
            OrganizationId = org.Id,
            Email = address,
            Role = role,
            TokenHash = hash,
            InvitedBy = actor.UserId,
            CreatedAt = now,
            ExpiresAt = now + InvitationLifetime,
        });
        change.Audit(TenancyAuditActions.MemberInvited, address, new Dictionary<string, string?> { ["role"] = role.ToString() });
        return (org, address, token);
    }

    public Task RevokeInvitationAsync(Actor actor, string slug, Guid invitationId, CancellationToken ct) =>
        operations.ChangePlatformAsync(actor, slug, OrgRole.Admin, "members.revoke_invitation", async (change, token) =>
        {
            var now = clock.GetUtcNow();
            var invitation = await change.Db.Invitations.FirstOrDefaultAsync(i => i.Id == invitationId && i.OrganizationId == change.Org.Id && i.AcceptedAt == null && i.RevokedAt == null, token)
                ?? throw new OrgRuleException("That invitation is no longer open.");
            invitation.RevokedAt = now;
            change.Audit(TenancyAuditActions.InvitationRevoked, invitation.Email);
        }, ct);

    public async Task<InvitationPreview?> PreviewAsync(string? token, CancellationToken ct)
    {
        if (!OpaqueToken.LooksValid(token))
        {
            return null;
        }
        var hash = OpaqueToken.Hash(token!);
        var now = clock.GetUtcNow();
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        return await db.Invitations.AsNoTracking().Where(i => i.TokenHash == hash)
            .Join(db.Organizations, i => i.OrganizationId, o => o.Id, (i, o) => new InvitationPreview(o.Name, i.Email, i.Role,
                i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now))
            .FirstOrDefaultAsync(ct);
    }

    /// <summary>Accepts an invitation for the signed-in account. A forwarded link fails for any other email.</summary>
    public async Task<OrgSummary> AcceptAsync(Actor actor, string? token, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!OpaqueToken.LooksValid(token))
        {
            throw new OrgRuleException("This invitation link is not valid.");
        }
        var hash = OpaqueToken.Hash(token!);
        var now = clock.GetUtcNow();
        // The invitation is what entitles the caller: lock it, so a revocation (or a second use) waits or wins.
        await using var tx = await operations.BeginPlatformAsync(ct);
        var db = tx.Db;
        var invitation = (await db.Invitations.FromSqlInterpolated($"select * from platform.invitations where token_hash = {hash} for update")
            .ToListAsync(ct)).SingleOrDefault();
        if (invitation is null || invitation.AcceptedAt is not null || invitation.RevokedAt is not null || invitation.ExpiresAt <= now)
        {
            throw new OrgRuleException("This invitation has expired, was revoked or was already used. Ask for a new one.");
        }
        // The invitation is only as good as its sender now: a suspended account (an incident being handled),
        // or one that no longer holds the role the invitation needs, vouches for no one.
        // (Roles are stored as text, so "at least Admin" is spelled out rather than compared.)
        var ownerOnly = invitation.Role == OrgRole.Owner;
        var senderStillEntitled = await db.Memberships
            .Where(m => m.OrganizationId == invitation.OrganizationId && m.UserId == invitation.InvitedBy
                && (m.Role == OrgRole.Owner || (!ownerOnly && m.Role == OrgRole.Admin)))
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => u)
            .AnyAsync(u => u.SuspendedAt == null, ct);
        if (!senderStillEntitled)
        {
            throw new OrgRuleException("This invitation is no longer valid: the person who sent it can no longer invite. Ask for a new one.");
        }
        var org = await db.Organizations.AsNoTracking().FirstAsync(o => o.Id == invitation.OrganizationId, ct);
        var schema = TenantSchemaName.Parse(org.SchemaName);
        if (!string.Equals(invitation.Email, actor.Email, StringComparison.Ordinal))
        {
            await denials.RecordAsync(schema, actor, "invitation:" + invitation.Email,
                new Dictionary<string, string?> { ["reason"] = "invitation sent to another email" });
            throw new OrgRuleException($"This invitation was sent to a different email address. Sign in as that address to accept it.");
        }
        invitation.AcceptedAt = now;
        var existing = await db.Memberships.FirstOrDefaultAsync(m => m.OrganizationId == org.Id && m.UserId == actor.UserId, ct);
        if (existing is null)
        {
            db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = actor.UserId, Role = invitation.Role, JoinedAt = now });
        }
        var role = existing?.Role ?? invitation.Role;
        tx.Audit(schema, AuditEntry.By(actor, TenancyAuditActions.MemberJoined, actor.Email, new Dictionary<string, string?> { ["role"] = role.ToString() }));
        await tx.CommitAsync(ct);
        return new OrgSummary(org.Id, org.Slug, org.Name, role);
    }

    public Task ChangeRoleAsync(Actor actor, string slug, Guid userId, OrgRole newRole, CancellationToken ct) =>
        operations.ChangePlatformAsync(actor, slug, OrgRole.Admin, "members.change_role", async (change, token) =>
        {
            var (org, db) = (change.Org, change.Db);
            var member = await MemberAsync(db, org.Id, userId, token);
            if ((member.Role == OrgRole.Owner || newRole == OrgRole.Owner) && org.Role != OrgRole.Owner)
            {
                throw new OrgRuleException("Only an Owner can grant or change the Owner role.");
            }
            if (member.Role == OrgRole.Owner && newRole != OrgRole.Owner && await OwnerCountAsync(db, org.Id, token) <= 1)
            {
                throw new OrgRuleException("An organization needs at least one Owner. Make someone else Owner first.");
            }
            var oldRole = member.Role;
            var target = await MemberEmailAsync(db, userId, token);
            member.Role = newRole;
            change.Audit(TenancyAuditActions.MemberRoleChanged, target,
                new Dictionary<string, string?> { ["from"] = oldRole.ToString(), ["to"] = newRole.ToString(), ["user_id"] = userId.ToString() });
            await RevokeInvitationsBeyondAsync(change, userId, newRole, "sender's role changed", token);
        }, ct);

    public async Task RemoveAsync(Actor actor, string slug, Guid userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (userId == actor.UserId)
        {
            await LeaveAsync(actor, slug, ct);
            return;
        }
        await operations.ChangePlatformAsync(actor, slug, OrgRole.Admin, "members.remove", async (change, token) =>
        {
            var (org, db) = (change.Org, change.Db);
            var member = await MemberAsync(db, org.Id, userId, token);
            if (member.Role == OrgRole.Owner && org.Role != OrgRole.Owner)
            {
                throw new OrgRuleException("Only an Owner can remove an Owner.");
            }
            if (member.Role == OrgRole.Owner && await OwnerCountAsync(db, org.Id, token) <= 1)
            {
                throw new OrgRuleException("An organization needs at least one Owner. Make someone else Owner first.");
            }
            var target = await MemberEmailAsync(db, userId, token);
            db.Memberships.Remove(member);
            change.Audit(TenancyAuditActions.MemberRemoved, target, new Dictionary<string, string?> { ["role"] = member.Role.ToString(), ["user_id"] = userId.ToString() });
            await RevokeInvitationsBeyondAsync(change, userId, newRole: null, "sender was removed", token);
        }, ct);
    }

    public Task LeaveAsync(Actor actor, string slug, CancellationToken ct) =>
        operations.ChangePlatformAsync(actor, slug, OrgRole.Viewer, "members.leave", async (change, token) =>
        {
            var (org, db) = (change.Org, change.Db);
            var member = await MemberAsync(db, org.Id, actor.UserId, token);
            if (member.Role == OrgRole.Owner && await OwnerCountAsync(db, org.Id, token) <= 1)
            {
                throw new OrgRuleException("You are the only Owner. Make someone else Owner, or delete the organization.");
            }
            db.Memberships.Remove(member);
            change.Audit(TenancyAuditActions.MemberLeft, actor.Email);
            await RevokeInvitationsBeyondAsync(change, actor.UserId, newRole: null, "sender left", token);
        }, ct);

    /// <summary>
    /// An invitation grants no more than its sender can still grant: an Owner any role, an Admin any but Owner,
    /// anyone else (or someone gone) nothing. Open invitations beyond that are revoked with the change, each audited.
    /// </summary>
    private async Task RevokeInvitationsBeyondAsync(PlatformChange change, Guid senderId, OrgRole? newRole, string reason, CancellationToken ct)
    {
        if (newRole == OrgRole.Owner)
        {
            return;
        }
        var now = clock.GetUtcNow();
        var open = change.Db.Invitations.Where(i => i.OrganizationId == change.Org.Id && i.InvitedBy == senderId
            && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now);
        if (newRole == OrgRole.Admin)
        {
            open = open.Where(i => i.Role == OrgRole.Owner);
        }
        foreach (var invitation in await open.ToListAsync(ct))
        {
            invitation.RevokedAt = now;
            change.Audit(TenancyAuditActions.InvitationRevoked, invitation.Email, new Dictionary<string, string?>
            {
                ["reason"] = reason,
                ["invited_by"] = senderId.ToString(),
                ["role"] = invitation.Role.ToString(),
            });
        }
    }

    private static async Task<Membership> MemberAsync(PlatformDbContext db, Guid orgId, Guid userId, CancellationToken ct) =>
        await db.Memberships.FirstOrDefaultAsync(m => m.OrganizationId == orgId && m.UserId == userId, ct)
            ?? throw new OrgRuleException("That person is not a member of this organization.");

    private static async Task<string> MemberEmailAsync(PlatformDbContext db, Guid userId, CancellationToken ct) =>
        await db.Users.Where(u => u.Id == userId).Select(u => u.Email).FirstOrDefaultAsync(ct) ?? userId.ToString();

    private static Task<int> OwnerCountAsync(PlatformDbContext db, Guid orgId, CancellationToken ct) =>
        db.Memberships.CountAsync(m => m.OrganizationId == orgId && m.Role == OrgRole.Owner, ct);
}
