using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tenancy;

/// <summary>The current organization as seen by one member.</summary>
public sealed record OrgContext(Guid Id, string Slug, string Name, TenantSchemaName Schema, OrgRole Role)
{
    public bool Can(OrgRole minimum) => Role >= minimum;
}

/// <summary>Raised for a missing organization and for one the caller does not belong to: both look the same.</summary>
public sealed class OrgNotFoundException() : UserFacingException("Organization not found.", 404);

public sealed class OrgForbiddenException(OrgRole required) : UserFacingException($"This needs the {required} role or higher.", 403)
{
    public OrgRole Required { get; } = required;
}

/// <summary>Thrown for a request the rules refuse (bad slug, last owner leaving...). The message is safe to show.</summary>
public sealed class OrgRuleException(string message) : UserFacingException(message, 400);

/// <summary>
/// Role checks for every service call. Denials are recorded in the organization that was asked about,
/// coalesced per actor and kind (see <see cref="AccessDenials"/>). Services go through
/// <see cref="TenantOperation"/>, which calls this first.
/// </summary>
public sealed class OrganizationAccess(IDbContextFactory<PlatformDbContext> platformFactory, AccessDenials denials)
{
    public Task<OrgContext> RequireAsync(Actor actor, OrgRef org, OrgRole minimum, string what, CancellationToken ct) =>
        RequireAsync(actor, org.Match(), minimum, what, ct);

    /// <summary>Looks an organization up by id for the caller; a non-member gets not-found (and the probe is audited).</summary>
    public Task<OrgContext> RequireByIdAsync(Actor actor, Guid organizationId, OrgRole minimum, string what, CancellationToken ct) =>
        RequireAsync(actor, OrgRef.ById(organizationId), minimum, what, ct);

    private async Task<OrgContext> RequireAsync(Actor actor, Expression<Func<Organization, bool>> match, OrgRole minimum, string what, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        // The organization and the caller's membership (if any) in one round trip.
        var found = await db.Organizations.AsNoTracking().Where(match)
            .Select(o => new { Org = o, Membership = o.Members.FirstOrDefault(m => m.UserId == actor.UserId) })
            .FirstOrDefaultAsync(ct);
        if (found is null)
        {
            throw new OrgNotFoundException();
        }
        var (org, membership) = (found.Org, found.Membership);
        var schema = TenantSchemaName.Parse(org.SchemaName);
        if (membership is null || membership.Role < minimum)
        {
            await denials.RecordAsync(schema, actor, what,
                new Dictionary<string, string?> { ["required"] = minimum.ToString(), ["role"] = membership?.Role.ToString() ?? "none" });
            if (membership is null)
            {
                throw new OrgNotFoundException();
            }
            throw new OrgForbiddenException(minimum);
        }
        return new OrgContext(org.Id, org.Slug, org.Name, schema, membership.Role);
    }
}
