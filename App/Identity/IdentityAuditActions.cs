namespace AgentSpace.Identity;

/// <summary>Sign-in, session and account actions in the platform audit chain.</summary>
public static class IdentityAuditActions
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
}
