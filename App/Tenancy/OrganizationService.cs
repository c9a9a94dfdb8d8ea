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
    TenantOperation operations,
    TenantUnitOfWork tenants,
    TenancyRateLimits limits,
    TimeProvider clock,
    ILogger<OrganizationService> logger,
    Vault.TenantSecrets? openedSecrets = null)
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
        // Format characters (bidi overrides, zero-width joiners) would make the name read differently from what it
        // is, in the app and in the invitation emails that carry it.
        return trimmed.Length > 100 || trimmed.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            ? "Use at most 100 printable characters."
            : null;
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
        limits.AcquireOrganizationCreation(actor);
        var org = new Organization
        {
            Id = Guid.CreateVersion7(),
            Slug = slug!,
            Name = name!.Trim(),
            SchemaName = TenantSchemaName.NewRandom().Value,
            CreatedAt = clock.GetUtcNow(),
        };
        var schema = TenantSchemaName.Parse(org.SchemaName);

        // The organization row stays uncommitted while its schema is provisioned: nobody sees it half made,
        // and a racing creator of the same slug waits on the unique index, then is refused.
        await using var tx = await operations.BeginPlatformAsync(ct);
        tx.Db.Organizations.Add(org);
        tx.Db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = actor.UserId, Role = OrgRole.Owner, JoinedAt = org.CreatedAt });
        try
        {
            await tx.Db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new OrgRuleException("That address is already taken. Choose another.");
        }

        try
        {
            await migrator.ProvisionTenantAsync(schema, ct);
            tx.Audit(schema, AuditEntry.By(actor, TenancyAuditActions.OrgCreated, org.Slug, new Dictionary<string, string?> { ["name"] = org.Name }));
            await tx.CommitAsync(ct);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Provisioning organization {Slug} failed; rolling back", org.Slug);
            await tx.DisposeAsync();
            // Not cancellable: a half-made tenant is worse than a slow request.
            await migrator.DropTenantAsync(schema, CancellationToken.None);
            throw new OrgRuleException("The organization could not be created. Nothing was saved; try again.");
        }
        return new OrgSummary(org.Id, org.Slug, org.Name, OrgRole.Owner);
    }

    public Task RenameAsync(Actor actor, string slug, string? newName, CancellationToken ct) =>
        operations.ChangePlatformAsync(actor, slug, OrgRole.Admin, "org.rename", async (change, token) =>
        {
            if (ValidateName(newName) is { } problem)
            {
                throw new OrgRuleException(problem);
            }
            var name = newName!.Trim();
            await change.Db.Organizations.Where(o => o.Id == change.Org.Id).ExecuteUpdateAsync(s => s.SetProperty(o => o.Name, name), token);
            change.Audit(TenancyAuditActions.OrgRenamed, change.Org.Slug, new Dictionary<string, string?> { ["from"] = change.Org.Name, ["to"] = name });
        }, ct);

    /// <summary>
    /// Owner only, with the slug typed again. Drops the schema and role, removes the organization with every
    /// membership and invitation, and records it in the platform log (the tenant's own log goes with it).
    /// </summary>
    public Task DeleteAsync(Actor actor, string slug, string? typedSlug, CancellationToken ct) =>
        operations.ChangePlatformAsync(actor, slug, OrgRole.Owner, "org.delete", async (change, token) =>
        {
            var org = change.Org;
            if (!string.Equals(typedSlug?.Trim(), org.Slug, StringComparison.Ordinal))
            {
                throw new OrgRuleException($"Type \"{org.Slug}\" to confirm.");
            }
            await DropAsync(change.Db, org.Id, org.Schema, token);
            change.AuditPlatform(TenancyAuditActions.OrgDeleted, org.Slug, new Dictionary<string, string?> { ["name"] = org.Name, ["schema"] = org.Schema.Value });
        }, ct);

    /// <summary>Operator deletion (admin command); no membership check.</summary>
    public async Task<bool> DeleteAsOperatorAsync(string slug, CancellationToken ct)
    {
        await using var tx = await operations.BeginPlatformAsync(ct);
        var org = (await tx.Db.Organizations.FromSqlInterpolated($"select * from platform.organizations where slug = {slug} for update")
            .AsNoTracking().ToListAsync(ct)).SingleOrDefault();
        if (org is null)
        {
            return false;
        }
        await DropAsync(tx.Db, org.Id, TenantSchemaName.Parse(org.SchemaName), ct);
        tx.AuditPlatform(AuditEntry.ByOperator(TenancyAuditActions.OrgDeleted, org.Slug,
            new Dictionary<string, string?> { ["name"] = org.Name, ["schema"] = org.SchemaName }));
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<OrgDashboard> GetDashboardAsync(Actor actor, string slug, CancellationToken ct)
    {
        var (org, members, pending) = await operations.ReadPlatformAsync(actor, slug, OrgRole.Viewer, "org.dashboard", async (org, db, token) =>
        {
            var now = clock.GetUtcNow();
            return (org,
                await db.Memberships.CountAsync(m => m.OrganizationId == org.Id, token),
                await db.Invitations.CountAsync(i => i.OrganizationId == org.Id && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now, token));
        }, ct);
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

    /// <summary>
    /// Drops the schema and role (their own transactions), then deletes the organization's row in the caller's
    /// transaction, which still holds the row. If that transaction fails, the row remains and deleting again
    /// finishes the job (dropping is idempotent).
    /// </summary>
    private async Task DropAsync(PlatformDbContext db, Guid organizationId, TenantSchemaName schema, CancellationToken ct)
    {
        // Crypto-shredding first: once this commits, no copy of the organization's secrets can be opened again.
        await Vault.SecretVault.DestroyKeysAsync(db, organizationId, ct);
        openedSecrets?.Forget(organizationId);
        // Not cancellable: a half-removed tenant is worse than a slow request.
        await migrator.DropTenantAsync(schema, CancellationToken.None);
        await db.Organizations.Where(o => o.Id == organizationId).ExecuteDeleteAsync(ct);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex SlugPattern();
}
