namespace AgentSpace.Identity;

public sealed class SignInOptions
{
    public const string Section = "SignIn";

    public int TokenLifetimeMinutes { get; set; } = 15;
    /// <summary>Links per mailbox per window; "+tag" variants and case count as the same mailbox.</summary>
    public int MaxRequestsPerEmail { get; set; } = 5;
    /// <summary>Links per client address per window (IPv6 by /64; requests without an address share one bucket).</summary>
    public int MaxRequestsPerIp { get; set; } = 20;
    /// <summary>Links for everyone together per window: a ceiling on the mail a flood of addresses can make the app send.</summary>
    public int MaxRequestsGlobalPerWindow { get; set; } = 10_000;
    public int RateWindowMinutes { get; set; } = 15;
    /// <summary>POSTs to /auth/* per client address per minute, refused with 429 before any work (or audit row) is done.</summary>
    public int MaxAuthPostsPerIpPerMinute { get; set; } = 30;
    /// <summary>How often an open Blazor circuit re-checks its session; sign-out-everywhere takes effect within this.</summary>
    public int SessionRevalidationSeconds { get; set; } = 10;
    /// <summary>A session ends this long after sign-in, however much it is used.</summary>
    public int SessionLifetimeHours { get; set; } = 7 * 24;
    /// <summary>A session ends after this long without use.</summary>
    public int SessionIdleHours { get; set; } = 12;

    public TimeSpan SessionLifetime => TimeSpan.FromHours(Math.Max(1, SessionLifetimeHours));

    public TimeSpan SessionIdleTimeout => TimeSpan.FromHours(Math.Max(1, SessionIdleHours));
}
