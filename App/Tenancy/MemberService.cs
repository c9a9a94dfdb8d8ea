using System.Net;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Email;
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
    OrganizationAccess access,
    AuditLog audit,
    EmailQueue email,
    TimeProvider clock)
{
    public static readonly TimeSpan InvitationLifetime = TimeSpan.FromDays(7);

    public async Task<MemberList> ListAsync(Actor actor, string slug, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Viewer, "members.list", ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var members = await db.Memberships.AsNoTracking()
            .Where(m => m.OrganizationId == org.Id)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new MemberRow(m.UserId, u.Email!, m.Role, m.JoinedAt))
            .ToListAsync(ct);
        members = [.. members.OrderByDescending(m => m.Role).ThenBy(m => m.Email, StringComparer.Ordinal)];
        IReadOnlyList<InvitationRow> invitations = [];
        if (org.Can(OrgRole.Admin))
        {
            var now = clock.GetUtcNow();
            invitations = await db.Invitations.AsNoTracking()
                .Where(i => i.OrganizationId == org.Id && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now)
                .OrderBy(i => i.Email)
                .Select(i => new InvitationRow(i.Id, i.Email, i.Role, i.CreatedAt, i.ExpiresAt))
                .ToListAsync(ct);
        }
        return new MemberList(org, members, invitations);
    }

    /// <summary>Invites an email address; the link works only for an account with that address.</summary>
    public async Task InviteAsync(Actor actor, string slug, string? rawEmail, OrgRole role, string baseUrl, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "members.invite", ct);
        var address = EmailAddress.Normalize(rawEmail) ?? throw new OrgRuleException("Enter a valid email address.");
        if (role == OrgRole.Owner && org.Role != OrgRole.Owner)
        {
            throw new OrgRuleException("Only an Owner can invite another Owner.");
        }
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var normalized = address.ToUpperInvariant();
        var alreadyMember = await db.Memberships.Where(m => m.OrganizationId == org.Id)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => u.NormalizedEmail)
            .AnyAsync(e => e == normalized, ct);
        if (alreadyMember)
        {
            throw new OrgRuleException($"{address} is already a member.");
        }
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
        await db.SaveChangesAsync(ct);
        await audit.AppendAsync(org.Schema, new AuditEntry(AuditActions.MemberInvited, AuditOutcome.Success, actor.UserId, actor.Email, address, actor.Ip,
            new Dictionary<string, string?> { ["role"] = role.ToString() }), ct);

        var link = $"{baseUrl.TrimEnd('/')}/invitations/accept?token={token}";
        email.Enqueue(new EmailMessage(address, $"You are invited to {org.Name} on AgentSpace",
            $"{actor.Email} invited you to join {org.Name} as {role}.\n\nAccept: {link}\n\nSign in with this email address ({address}) to accept. The invitation expires in 7 days.",
            $"<p>{WebUtility.HtmlEncode(actor.Email)} invited you to join <b>{WebUtility.HtmlEncode(org.Name)}</b> as {role}.</p><p><a href=\"{WebUtility.HtmlEncode(link)}\">Accept the invitation</a></p><p>Sign in with this email address ({WebUtility.HtmlEncode(address)}) to accept. The invitation expires in 7 days.</p>"));
    }

    public async Task RevokeInvitationAsync(Actor actor, string slug, Guid invitationId, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "members.revoke_invitation", ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow();
        var invitation = await db.Invitations.FirstOrDefaultAsync(i => i.Id == invitationId && i.OrganizationId == org.Id && i.AcceptedAt == null && i.RevokedAt == null, ct)
            ?? throw new OrgRuleException("That invitation is no longer open.");
        invitation.RevokedAt = now;
        await db.SaveChangesAsync(ct);
        await audit.AppendAsync(org.Schema, new AuditEntry(AuditActions.InvitationRevoked, AuditOutcome.Success, actor.UserId, actor.Email, invitation.Email, actor.Ip), ct);
    }

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
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var invitation = (await db.Invitations.FromSqlInterpolated($"select * from platform.invitations where token_hash = {hash} for update")
            .ToListAsync(ct)).SingleOrDefault();
        if (invitation is null || invitation.AcceptedAt is not null || invitation.RevokedAt is not null || invitation.ExpiresAt <= now)
        {
            throw new OrgRuleException("This invitation has expired, was revoked or was already used. Ask for a new one.");
        }
        var org = await db.Organizations.AsNoTracking().FirstAsync(o => o.Id == invitation.OrganizationId, ct);
        var schema = TenantSchemaName.Parse(org.SchemaName);
        if (!string.Equals(invitation.Email, actor.Email, StringComparison.OrdinalIgnoreCase))
        {
            await tx.RollbackAsync(ct);
            await audit.AppendAsync(schema, new AuditEntry(AuditActions.AccessDenied, AuditOutcome.Denied, actor.UserId, actor.Email, "invitation:" + invitation.Email, actor.Ip,
                new Dictionary<string, string?> { ["reason"] = "invitation sent to another email" }), ct);
            throw new OrgRuleException($"This invitation was sent to a different email address. Sign in as that address to accept it.");
        }
        invitation.AcceptedAt = now;
        var existing = await db.Memberships.FirstOrDefaultAsync(m => m.OrganizationId == org.Id && m.UserId == actor.UserId, ct);
        if (existing is null)
        {
            db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = actor.UserId, Role = invitation.Role, JoinedAt = now });
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        var role = existing?.Role ?? invitation.Role;
        await audit.AppendAsync(schema, new AuditEntry(AuditActions.MemberJoined, AuditOutcome.Success, actor.UserId, actor.Email, actor.Email, actor.Ip,
            new Dictionary<string, string?> { ["role"] = role.ToString() }), ct);
        return new OrgSummary(org.Id, org.Slug, org.Name, role);
    }

    public async Task ChangeRoleAsync(Actor actor, string slug, Guid userId, OrgRole newRole, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "members.change_role", ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var member = await LockMemberAsync(db, org.Id, userId, ct);
        if ((member.Role == OrgRole.Owner || newRole == OrgRole.Owner) && org.Role != OrgRole.Owner)
        {
            throw new OrgRuleException("Only an Owner can grant or change the Owner role.");
        }
        if (member.Role == OrgRole.Owner && newRole != OrgRole.Owner && await OwnerCountAsync(db, org.Id, ct) <= 1)
        {
            throw new OrgRuleException("An organization needs at least one Owner. Make someone else Owner first.");
        }
        var oldRole = member.Role;
        var target = await MemberEmailAsync(db, userId, ct);
        member.Role = newRole;
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        await audit.AppendAsync(org.Schema, new AuditEntry(AuditActions.MemberRoleChanged, AuditOutcome.Success, actor.UserId, actor.Email, target, actor.Ip,
            new Dictionary<string, string?> { ["from"] = oldRole.ToString(), ["to"] = newRole.ToString(), ["user_id"] = userId.ToString() }), ct);
    }

    public async Task RemoveAsync(Actor actor, string slug, Guid userId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (userId == actor.UserId)
        {
            await LeaveAsync(actor, slug, ct);
            return;
        }
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "members.remove", ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var member = await LockMemberAsync(db, org.Id, userId, ct);
        if (member.Role == OrgRole.Owner && org.Role != OrgRole.Owner)
        {
            throw new OrgRuleException("Only an Owner can remove an Owner.");
        }
        var target = await MemberEmailAsync(db, userId, ct);
        db.Memberships.Remove(member);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        await audit.AppendAsync(org.Schema, new AuditEntry(AuditActions.MemberRemoved, AuditOutcome.Success, actor.UserId, actor.Email, target, actor.Ip,
            new Dictionary<string, string?> { ["role"] = member.Role.ToString(), ["user_id"] = userId.ToString() }), ct);
    }

    public async Task LeaveAsync(Actor actor, string slug, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Viewer, "members.leave", ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var member = await LockMemberAsync(db, org.Id, actor.UserId, ct);
        if (member.Role == OrgRole.Owner && await OwnerCountAsync(db, org.Id, ct) <= 1)
        {
            throw new OrgRuleException("You are the only Owner. Make someone else Owner, or delete the organization.");
        }
        db.Memberships.Remove(member);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        await audit.AppendAsync(org.Schema, new AuditEntry(AuditActions.MemberLeft, AuditOutcome.Success, actor.UserId, actor.Email, actor.Email, actor.Ip), ct);
    }

    private static async Task<Membership> LockMemberAsync(PlatformDbContext db, Guid orgId, Guid userId, CancellationToken ct)
    {
        // Lock the organization's memberships so two concurrent demotions cannot leave it without an Owner.
        await db.Database.ExecuteSqlInterpolatedAsync($"select 1 from platform.memberships where organization_id = {orgId} for update", ct);
        return await db.Memberships.FirstOrDefaultAsync(m => m.OrganizationId == orgId && m.UserId == userId, ct)
            ?? throw new OrgRuleException("That person is not a member of this organization.");
    }

    private static async Task<string> MemberEmailAsync(PlatformDbContext db, Guid userId, CancellationToken ct) =>
        await db.Users.Where(u => u.Id == userId).Select(u => u.Email).FirstOrDefaultAsync(ct) ?? userId.ToString();

    private static Task<int> OwnerCountAsync(PlatformDbContext db, Guid orgId, CancellationToken ct) =>
        db.Memberships.CountAsync(m => m.OrganizationId == orgId && m.Role == OrgRole.Owner, ct);
}
