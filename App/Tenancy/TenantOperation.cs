using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tenancy;

/// <summary>
/// The one way a feature enters a tenant: access check, one unit of work, and the audit rows of that work
/// in the same transaction. Member paths check the caller's role (denials are recorded by
/// <see cref="OrganizationAccess"/>); the system path is for background jobs and is recorded as the
/// system actor with its reason.
/// </summary>
/// <remarks>
/// A unit of work holds a pooled connection, a transaction and, while it appends, the tenant's audit lock.
/// Model calls, streams, outbound HTTP, file extraction and email never run inside the work delegate:
/// write the state before the slow call and the result after it, each in its own operation.
/// </remarks>
public sealed class TenantOperation(
    OrganizationAccess access,
    IDbContextFactory<PlatformDbContext> platformFactory,
    TenantUnitOfWork tenants,
    AuditLog audit,
    TimeProvider clock)
{
    /// <summary>Tenant data for a member with at least <paramref name="minimum"/>; what the work audits is appended before commit.</summary>
    public async Task<T> RunAsync<T>(Actor actor, OrgRef org, OrgRole minimum, string what,
        Func<TenantWork, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(work);
        var context = await access.RequireAsync(actor, org, minimum, what, ct);
        return await InTenantAsync(context, (action, target, details, outcome) => AuditEntry.By(actor, action, target, details, outcome), work, ct);
    }

    public Task RunAsync(Actor actor, OrgRef org, OrgRole minimum, string what,
        Func<TenantWork, CancellationToken, Task> work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        return RunAsync<bool>(actor, org, minimum, what, async (w, token) =>
        {
            await work(w, token);
            return true;
        }, ct);
    }

    /// <summary>
    /// Tenant data for background work (ingestion, schedules, housekeeping): no member behind it, so no role
    /// check; what it audits is recorded as the system actor with <paramref name="reason"/>.
    /// The work sees the organization with the Owner role.
    /// </summary>
    public async Task<T> RunAsSystemAsync<T>(Guid organizationId, string reason,
        Func<TenantWork, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        ArgumentNullException.ThrowIfNull(work);
        OrgContext context;
        await using (var db = await platformFactory.CreateDbContextAsync(ct))
        {
            var org = await db.Organizations.AsNoTracking().FirstOrDefaultAsync(o => o.Id == organizationId, ct)
                ?? throw new OrgNotFoundException();
            context = new OrgContext(org.Id, org.Slug, org.Name, TenantSchemaName.Parse(org.SchemaName), OrgRole.Owner);
        }
        return await InTenantAsync(context, (action, target, details, outcome) => AuditEntry.BySystem(reason, action, target, details, outcome), work, ct);
    }

    public Task RunAsSystemAsync(Guid organizationId, string reason, Func<TenantWork, CancellationToken, Task> work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        return RunAsSystemAsync<bool>(organizationId, reason, async (w, token) =>
        {
            await work(w, token);
            return true;
        }, ct);
    }

    /// <summary>Reads platform rows about an organization (members, invitations) for a member with at least <paramref name="minimum"/>.</summary>
    public async Task<T> ReadPlatformAsync<T>(Actor actor, OrgRef org, OrgRole minimum, string what,
        Func<OrgContext, PlatformDbContext, CancellationToken, Task<T>> read, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(read);
        var context = await access.RequireAsync(actor, org, minimum, what, ct);
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        return await read(context, db, ct);
    }

    /// <summary>
    /// Changes platform rows of an organization (memberships, invitations, its name) for a member with at
    /// least <paramref name="minimum"/>. Changes to one organization run one at a time (its row is locked),
    /// and the caller's role is read again under that lock, so a role lost a moment ago no longer counts.
    /// The change and its audit rows commit together (see <see cref="PlatformTransaction"/>).
    /// </summary>
    public async Task<T> ChangePlatformAsync<T>(Actor actor, OrgRef org, OrgRole minimum, string what,
        Func<PlatformChange, CancellationToken, Task<T>> change, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(change);
        var seen = await access.RequireAsync(actor, org, minimum, what, ct);
        await using var tx = await BeginPlatformAsync(ct);
        await tx.Db.Database.ExecuteSqlInterpolatedAsync($"select 1 from platform.organizations where id = {seen.Id} for update", ct);
        var now = await tx.Db.Organizations.AsNoTracking().Where(o => o.Id == seen.Id)
            .Select(o => new
            {
                o.Slug,
                o.Name,
                Role = o.Members.Where(m => m.UserId == actor.UserId).Select(m => (OrgRole?)m.Role).FirstOrDefault(),
            })
            .FirstOrDefaultAsync(ct) ?? throw new OrgNotFoundException();
        if (now.Role is not { } role)
        {
            throw new OrgRuleException("You are no longer a member of this organization.");
        }
        if (role < minimum)
        {
            throw new OrgRuleException($"Your role here is now {role}; this needs {minimum} or higher.");
        }
        var current = seen with { Slug = now.Slug, Name = now.Name, Role = role };
        var result = await change(new PlatformChange(current, tx, actor), ct);
        await tx.CommitAsync(ct);
        return result;
    }

    public Task ChangePlatformAsync(Actor actor, OrgRef org, OrgRole minimum, string what,
        Func<PlatformChange, CancellationToken, Task> change, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(change);
        return ChangePlatformAsync<bool>(actor, org, minimum, what, async (c, token) =>
        {
            await change(c, token);
            return true;
        }, ct);
    }

    /// <summary>
    /// A platform transaction for changes that no membership authorizes (creating an organization, accepting
    /// an invitation, operator commands): the caller checks what entitles it, inside the transaction.
    /// </summary>
    public Task<PlatformTransaction> BeginPlatformAsync(CancellationToken ct) => PlatformTransaction.BeginAsync(platformFactory, clock, ct);

    private async Task<T> InTenantAsync<T>(OrgContext org, AuditAuthor author, Func<TenantWork, CancellationToken, Task<T>> work, CancellationToken ct) =>
        await tenants.RunAsync(org.Schema, async (db, token) =>
        {
            var unit = new TenantWork(org, db, author);
            var result = await work(unit, token);
            foreach (var entry in unit.Entries)
            {
                await audit.AppendAsync(db, entry, token);
            }
            return result;
        }, ct);
}

/// <summary>Turns what a piece of work audits into an entry by the operation's actor (a member or the system).</summary>
internal delegate AuditEntry AuditAuthor(string action, string? target, IReadOnlyDictionary<string, string?>? details, string outcome);

/// <summary>What work inside a tenant sees: the organization, the tenant's data, and where to record what it did.</summary>
public sealed class TenantWork
{
    private readonly AuditAuthor _author;
    private readonly List<AuditEntry> _entries = [];

    internal TenantWork(OrgContext org, TenantDbContext db, AuditAuthor author)
    {
        Org = org;
        Db = db;
        _author = author;
    }

    public OrgContext Org { get; }

    public TenantDbContext Db { get; }

    internal IReadOnlyList<AuditEntry> Entries => _entries;

    /// <summary>Records an audit entry by this operation's actor; it is appended when the work returns, in the same transaction.</summary>
    public void Audit(string action, string? target = null, IReadOnlyDictionary<string, string?>? details = null, string outcome = AuditOutcome.Success) =>
        _entries.Add(_author(action, target, details, outcome));
}

/// <summary>What a platform change sees: the organization (read under its lock), the platform rows, and where to record what it did.</summary>
public sealed class PlatformChange
{
    private readonly PlatformTransaction _transaction;
    private readonly Actor _actor;

    internal PlatformChange(OrgContext org, PlatformTransaction transaction, Actor actor)
    {
        Org = org;
        _transaction = transaction;
        _actor = actor;
    }

    /// <summary>The organization with the caller's role as it is now, under the organization's lock.</summary>
    public OrgContext Org { get; }

    public PlatformDbContext Db => _transaction.Db;

    /// <summary>Records an entry by the caller for the organization's chain, committed with the change.</summary>
    public void Audit(string action, string? target = null, IReadOnlyDictionary<string, string?>? details = null, string outcome = AuditOutcome.Success) =>
        _transaction.Audit(Org.Schema, AuditEntry.By(_actor, action, target, details, outcome));

    /// <summary>Records an entry by the caller for the platform chain (when the tenant's own chain goes away), committed with the change.</summary>
    public void AuditPlatform(string action, string? target = null, IReadOnlyDictionary<string, string?>? details = null, string outcome = AuditOutcome.Success) =>
        _transaction.AuditPlatform(AuditEntry.By(_actor, action, target, details, outcome));
}
