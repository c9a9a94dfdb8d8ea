namespace AgentSpace.Tenancy;

/// <summary>The audit actions Tenancy writes: organizations, members, invitations and access refusals.</summary>
public static class TenancyAuditActions
{
    public const string OrgCreated = "org.created";
    public const string OrgRenamed = "org.renamed";
    public const string OrgDeleted = "org.deleted";
    public const string MemberInvited = "member.invited";
    public const string InvitationRevoked = "member.invitation_revoked";
    public const string MemberJoined = "member.joined";
    public const string MemberRemoved = "member.removed";
    public const string MemberLeft = "member.left";
    public const string MemberRoleChanged = "member.role_changed";
    public const string AccessDenied = "access.denied";
}
