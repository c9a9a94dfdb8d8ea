using AgentSpace.Audit;
using AgentSpace.Data;
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
public sealed class OrgNotFoundException() : Exception("Organization not found.");

public sealed class OrgForbiddenException(OrgRole required) : Exception($"This needs the {required} role or higher.")
{
    public OrgRole Required { get; } = required;
}

/// <summary>Thrown for a request the rules refuse (bad slug, last owner leaving...). The message is safe to show.</summary>
public sealed class OrgRuleException(string message) : Exception(message);

/// <summary>Role checks for every service call. Denials are audited in the organization that was asked about.</summary>
public sealed class OrganizationAccess(IDbContextFactory<PlatformDbContext> platformFactory, AuditLog audit)
{
    public Task<OrgContext> RequireAsync(Actor actor, string slug, OrgRole minimum, string what, CancellationToken ct) =>
        RequireAsync(actor, o => o.Slug == slug, minimum, what, ct);

    /// <summary>Looks an organization up by id for the caller; a non-member gets not-found (and the probe is audited).</summary>
    public Task<OrgContext> RequireByIdAsync(Actor actor, Guid organizationId, OrgRole minimum, string what, CancellationToken ct) =>
        RequireAsync(actor, o => o.Id == organizationId, minimum, what, ct);

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
            await audit.AppendAsync(schema, new AuditEntry(AuditActions.AccessDenied, AuditOutcome.Denied, actor.UserId, actor.Email, what, actor.Ip,
                new Dictionary<string, string?> { ["required"] = minimum.ToString(), ["role"] = membership?.Role.ToString() ?? "none" }), ct);
            if (membership is null)
            {
                throw new OrgNotFoundException();
            }
            throw new OrgForbiddenException(minimum);
        }
        return new OrgContext(org.Id, org.Slug, org.Name, schema, membership.Role);
    }
}
