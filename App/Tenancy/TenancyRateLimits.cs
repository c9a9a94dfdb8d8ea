using System.Globalization;
using System.Threading.RateLimiting;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using Microsoft.Extensions.Options;

namespace AgentSpace.Tenancy;

/// <summary>
/// Limits on creating organizations and sending invitations, per user, per organization and per client
/// network (an IPv4 address, an IPv6 /64; requests without an address share one bucket). Enforced in the
/// services, because Blazor circuit actions never pass through HTTP middleware. The windows are fixed and
/// kept in this process (per app instance); a refusal throws <see cref="RateLimitedException"/>.
/// </summary>
public sealed class TenancyRateLimits : IDisposable
{
    private readonly TenancyRateLimitOptions _options;
    private readonly ILogger<TenancyRateLimits> _logger;
    private readonly PartitionedRateLimiter<Guid> _organizationsPerUser;
    private readonly PartitionedRateLimiter<string> _organizationsPerIp;
    private readonly PartitionedRateLimiter<Guid> _invitationsPerUser;
    private readonly PartitionedRateLimiter<Guid> _invitationsPerOrganization;
    private readonly PartitionedRateLimiter<string> _invitationsPerIp;

    public TenancyRateLimits(IOptions<TenancyOptions> options, ILogger<TenancyRateLimits> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value.RateLimits;
        _logger = logger;
        _organizationsPerUser = FixedWindow<Guid>(_options.OrganizationsPerUser);
        _organizationsPerIp = FixedWindow<string>(_options.OrganizationsPerIp);
        _invitationsPerUser = FixedWindow<Guid>(_options.InvitationsPerUser);
        _invitationsPerOrganization = FixedWindow<Guid>(_options.InvitationsPerOrganization);
        _invitationsPerIp = FixedWindow<string>(_options.InvitationsPerIp);
    }

    /// <summary>Takes one organization creation from the caller's allowances, or throws.</summary>
    public void AcquireOrganizationCreation(Actor actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Acquire(_organizationsPerUser, actor.UserId, "organizations per user", actor,
            $"You can create at most {_options.OrganizationsPerUser} organizations {Per(_options.Window)}.");
        Acquire(_organizationsPerIp, ClientAddress.Bucket(actor.Ip), "organizations per network", actor,
            "Too many organizations were created from your network recently.");
    }

    /// <summary>Takes one invitation from the caller's and the organization's allowances, or throws.</summary>
    public void AcquireInvitation(Actor actor, Guid organizationId)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Acquire(_invitationsPerUser, actor.UserId, "invitations per user", actor,
            $"You can send at most {_options.InvitationsPerUser} invitations {Per(_options.Window)}.");
        Acquire(_invitationsPerOrganization, organizationId, "invitations per organization", actor,
            $"This organization can send at most {_options.InvitationsPerOrganization} invitations {Per(_options.Window)}.");
        Acquire(_invitationsPerIp, ClientAddress.Bucket(actor.Ip), "invitations per network", actor,
            "Too many invitations were sent from your network recently.");
    }

    public void Dispose()
    {
        _organizationsPerUser.Dispose();
        _organizationsPerIp.Dispose();
        _invitationsPerUser.Dispose();
        _invitationsPerOrganization.Dispose();
        _invitationsPerIp.Dispose();
    }

    private void Acquire<TKey>(PartitionedRateLimiter<TKey> limiter, TKey key, string limit, Actor actor, string refusal)
    {
        using var lease = limiter.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return;
        }
        TimeSpan? retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : null;
        _logger.LogWarning("Rate limit {Limit} refused user {UserId} from {Ip}", limit, actor.UserId, actor.Ip);
        // A fixed window reports its full length, so "at most" is the honest phrasing.
        throw new RateLimitedException($"{refusal} Try again later (in {Describe(retryAfter ?? _options.Window)} at most).", retryAfter);
    }

    private PartitionedRateLimiter<TKey> FixedWindow<TKey>(int permits) where TKey : notnull =>
        PartitionedRateLimiter.Create<TKey, TKey>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = _options.Window,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    private static string Per(TimeSpan window) => window == TimeSpan.FromHours(1) ? "an hour" : "every " + Describe(window);

    private static string Describe(TimeSpan span) => span switch
    {
        _ when span == TimeSpan.FromHours(1) => "an hour",
        _ when span >= TimeSpan.FromHours(2) && span.Ticks % TimeSpan.TicksPerHour == 0 => $"{span.TotalHours.ToString(CultureInfo.InvariantCulture)} hours",
        _ when span <= TimeSpan.FromMinutes(1) => "a minute",
        _ => $"{Math.Ceiling(span.TotalMinutes).ToString(CultureInfo.InvariantCulture)} minutes",
    };
}
