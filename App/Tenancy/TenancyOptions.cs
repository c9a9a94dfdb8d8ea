namespace AgentSpace.Tenancy;

/// <summary>Settings under <c>Tenancy</c>: how access denials are coalesced and how often organizations and invitations may be created.</summary>
public sealed class TenancyOptions
{
    public const string Section = "Tenancy";

    /// <summary>
    /// Repeated denials of one kind from one actor to one organization within this window become one audit
    /// row for the first and one for the rest, with their count.
    /// </summary>
    public TimeSpan DenialWindow { get; set; } = TimeSpan.FromMinutes(10);

    public TenancyRateLimitOptions RateLimits { get; set; } = new();
}

/// <summary>Fixed-window limits; each request must fit every limit that applies to it.</summary>
public sealed class TenancyRateLimitOptions
{
    public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);

    public int OrganizationsPerUser { get; set; } = 10;

    /// <summary>Per client address (IPv4) or /64 network (IPv6).</summary>
    public int OrganizationsPerIp { get; set; } = 30;

    public int InvitationsPerUser { get; set; } = 50;

    public int InvitationsPerOrganization { get; set; } = 100;

    public int InvitationsPerIp { get; set; } = 100;
}
