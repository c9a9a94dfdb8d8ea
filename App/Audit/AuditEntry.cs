namespace AgentSpace.Audit;

/// <summary>What a caller records; the chain adds sequence, time and hashes.</summary>
public sealed record AuditEntry(
    string Action,
    string Outcome,
    Guid? ActorId = null,
    string? ActorEmail = null,
    string? Target = null,
    string? Ip = null,
    IReadOnlyDictionary<string, string?>? Details = null);

public static class AuditOutcome
{
    public const string Success = "success";
    public const string Failure = "failure";
    public const string Denied = "denied";
}

public static class AuditActions
{
    public const string SignInRequested = "signin.requested";
    public const string SignInRateLimited = "signin.rate_limited";
    public const string SignInSucceeded = "signin.succeeded";
    public const string SignInFailed = "signin.failed";
    public const string SignOut = "signout";
    public const string SignOutEverywhere = "signout.everywhere";
    public const string SignOutSession = "signout.session";
    public const string AccountSuspended = "account.suspended";
    public const string AccountResumed = "account.resumed";
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
    public const string AuditExported = "audit.exported";
    public const string AuditVerified = "audit.verified";
}
