namespace AgentSpace.Identity;

public sealed class SignInOptions
{
    public const string Section = "SignIn";

    public int TokenLifetimeMinutes { get; set; } = 15;
    public int MaxRequestsPerEmail { get; set; } = 5;
    public int MaxRequestsPerIp { get; set; } = 20;
    public int RateWindowMinutes { get; set; } = 15;
    /// <summary>How often an open Blazor circuit re-checks its session; sign-out-everywhere takes effect within this.</summary>
    public int SessionRevalidationSeconds { get; set; } = 10;
}

public sealed class AppOptions
{
    public const string Section = "App";

    /// <summary>Base URL used in emailed links. Set it in production so links never depend on the request's Host header.</summary>
    public string PublicBaseUrl { get; set; } = "";
}
