using System.Text.RegularExpressions;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace AgentSpace.Tenancy;

public sealed record OrgSummary(Guid Id, string Slug, string Name, OrgRole Role);

public sealed record OrgDashboard(OrgContext Org, int MemberCount, int PendingInvitations, IReadOnlyList<AuditEvent> RecentEvents);

/// <summary>Create, rename, list and delete organizations (tenants).</summary>
public sealed partial class OrganizationService(
    IDbContextFactory<PlatformDbContext> platformFactory,
    SchemaMigrator migrator,
    OrganizationAccess access,
    TenantUnitOfWork tenants,
    AuditLog audit,
    TimeProvider clock,
    ILogger<OrganizationService> logger)
{
    private static readonly HashSet<string> ReservedSlugs = new(StringComparer.Ordinal)
    {
        "admin", "api", "app", "auth", "new", "orgs", "settings", "signin", "signout", "static", "www", "platform", "public", "system",
    };

    /// <summary>Returns null when the slug is acceptable, otherwise a message for the user.</summary>
    public static string? ValidateSlug(string? slug)
    {
        if (string.IsNullOrWhiteSpace(slug))
        {
            return "Enter a short name for the address (letters, digits and dashes).";
        }
        if (!SlugPattern().IsMatch(slug))
        {
            return "Use 3–40 lower-case letters, digits or dashes, starting and ending with a letter or digit.";
        }
        return ReservedSlugs.Contains(slug) ? "That name is reserved. Choose another." : null;
    }

    public static string? ValidateName(string? name)
    {
        var trimmed = name?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            return "Enter the organization's name.";
        }
        return trimmed.Length > 100 || trimmed.Any(char.IsControl) ? "Use at most 100 printable characters." : null;
    }

    public async Task<IReadOnlyList<OrgSummary>> ListMineAsync(Actor actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        return await db.Memberships.AsNoTracking()
            .Where(m => m.UserId == actor.UserId)
            .OrderBy(m => m.Organization!.Name)
            .Select(m => new OrgSummary(m.OrganizationId, m.Organization!.Slug, m.Organization.Name, m.Role))
            .ToListAsync(ct);
    }

    /// <summary>Creates the organization, its schema and role, and makes the caller its Owner. All or nothing.</summary>
    public async Task<OrgSummary> CreateAsync(Actor actor, string? slug, string? name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        slug = slug?.Trim().ToLowerInvariant();
        if ((ValidateSlug(slug) ?? ValidateName(name)) is { } problem)
        {
            throw new OrgRuleException(problem);
        }
        var org = new Organization
        {
            Id = Guid.CreateVersion7(),
            Slug = slug!,
            Name = name!.Trim(),
            SchemaName = TenantSchemaName.NewRandom().Value,
            CreatedAt = clock.GetUtcNow(),
        };
        var schema = TenantSchemaName.Parse(org.SchemaName);

        // Claim the slug first (unique index), so two racing creators cannot both provision.
        await using (var db = await platformFactory.CreateDbContextAsync(ct))
        {
            db.Organizations.Add(org);
            db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = actor.UserId, Role = OrgRole.Owner, JoinedAt = org.CreatedAt });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                throw new OrgRuleException("That address is already taken. Choose another.");
            }
        }

        try
        {
            await migrator.ProvisionTenantAsync(schema, ct);
            await audit.AppendAsync(schema, new AuditEntry(AuditActions.OrgCreated, AuditOutcome.Success, actor.UserId, actor.Email, org.Slug, actor.Ip,
                new Dictionary<string, string?> { ["name"] = org.Name }), ct);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Provisioning organization {Slug} failed; rolling back", org.Slug);
            await RemoveAsync(org.Id, schema);
            throw new OrgRuleException("The organization could not be created. Nothing was saved; try again.");
        }
        return new OrgSummary(org.Id, org.Slug, org.Name, OrgRole.Owner);
    }

    public async Task RenameAsync(Actor actor, string slug, string? newName, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Admin, "org.rename", ct);
        if (ValidateName(newName) is { } problem)
        {
            throw new OrgRuleException(problem);
        }
        var name = newName!.Trim();
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await db.Organizations.Where(o => o.Id == org.Id).ExecuteUpdateAsync(s => s.SetProperty(o => o.Name, name), ct);
        await audit.AppendAsync(org.Schema, new AuditEntry(AuditActions.OrgRenamed, AuditOutcome.Success, actor.UserId, actor.Email, org.Slug, actor.Ip,
            new Dictionary<string, string?> { ["from"] = org.Name, ["to"] = name }), ct);
    }

    /// <summary>Owner only, with the slug typed again. Drops the schema and role and removes every membership.</summary>
    public async Task DeleteAsync(Actor actor, string slug, string? typedSlug, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Owner, "org.delete", ct);
        if (!string.Equals(typedSlug?.Trim(), org.Slug, StringComparison.Ordinal))
        {
            throw new OrgRuleException($"Type \"{org.Slug}\" to confirm.");
        }
        await audit.AppendPlatformAsync(new AuditEntry(AuditActions.OrgDeleted, AuditOutcome.Success, actor.UserId, actor.Email, org.Slug, actor.Ip,
            new Dictionary<string, string?> { ["name"] = org.Name, ["schema"] = org.Schema.Value }), ct);
        await RemoveAsync(org.Id, org.Schema);
    }

    /// <summary>Operator deletion (admin command); no membership check.</summary>
    public async Task<bool> DeleteAsOperatorAsync(string slug, CancellationToken ct)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var org = await db.Organizations.AsNoTracking().FirstOrDefaultAsync(o => o.Slug == slug, ct);
        if (org is null)
        {
            return false;
        }
        await audit.AppendPlatformAsync(new AuditEntry(AuditActions.OrgDeleted, AuditOutcome.Success, ActorEmail: "operator", Target: org.Slug,
            Details: new Dictionary<string, string?> { ["name"] = org.Name, ["schema"] = org.SchemaName }), ct);
        await RemoveAsync(org.Id, TenantSchemaName.Parse(org.SchemaName));
        return true;
    }

    public async Task<OrgDashboard> GetDashboardAsync(Actor actor, string slug, CancellationToken ct)
    {
        var org = await access.RequireAsync(actor, slug, OrgRole.Viewer, "org.dashboard", ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var members = await db.Memberships.CountAsync(m => m.OrganizationId == org.Id, ct);
        var now = clock.GetUtcNow();
        var pending = await db.Invitations.CountAsync(i => i.OrganizationId == org.Id && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now, ct);
        IReadOnlyList<AuditEvent> recent = [];
        if (org.Can(OrgRole.Admin))
        {
            recent = await tenants.RunAsync(org.Schema, (t, token) =>
                t.AuditEvents.AsNoTracking().OrderByDescending(e => e.Seq).Take(10).ToListAsync(token), ct);
        }
        return new OrgDashboard(org, members, pending, recent);
    }

    public Task<OrgContext> GetAsync(Actor actor, string slug, CancellationToken ct) =>
        access.RequireAsync(actor, slug, OrgRole.Viewer, "org.view", ct);

    private async Task RemoveAsync(Guid organizationId, TenantSchemaName schema)
    {
        // Not cancellable: a half-removed tenant is worse than a slow request.
        await migrator.DropTenantAsync(schema, CancellationToken.None);
        await using var db = await platformFactory.CreateDbContextAsync(CancellationToken.None);
        await db.Organizations.Where(o => o.Id == organizationId).ExecuteDeleteAsync(CancellationToken.None);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex SlugPattern();
}
