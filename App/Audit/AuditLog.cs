using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace AgentSpace.Audit;

/// <summary>Writes audit events: into a tenant's chain inside its unit of work, or into the platform chain.</summary>
public sealed class AuditLog(IDbContextFactory<PlatformDbContext> platformFactory, TenantUnitOfWork tenants, TimeProvider clock)
{
    /// <summary>Appends inside an open tenant unit of work, so the event commits or rolls back with the change it records.</summary>
    public async Task<AuditEvent> AppendAsync(TenantDbContext db, AuditEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        var tx = db.Database.CurrentTransaction ?? throw new TenantNotSetException();
        var scope = db.PendingScopeStatements(); // throws with no tenant set
        var appended = await AuditChain.AppendAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(), AuditChainRef.Tenant(db.Scope!), entry, clock, scope, ct);
        db.ScopeSent();
        return appended;
    }

    public Task<AuditEvent> AppendAsync(TenantSchemaName tenant, AuditEntry entry, CancellationToken ct) =>
        tenants.RunAsync(tenant, (db, token) => AppendAsync(db, entry, token), ct);

    /// <summary>Appends to the platform chain in a transaction of its own.</summary>
    public async Task<AuditEvent> AppendPlatformAsync(AuditEntry entry, CancellationToken ct)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var appended = await AppendPlatformAsync(db, entry, ct);
        await tx.CommitAsync(ct);
        return appended;
    }

    /// <summary>
    /// Appends to the platform chain inside the caller's open transaction on <paramref name="db"/>, so a platform
    /// change and the row that records it commit or roll back together. Holds the platform chain's lock until
    /// that transaction ends: keep the rest of it short.
    /// </summary>
    public Task<AuditEvent> AppendPlatformAsync(PlatformDbContext db, AuditEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        var tx = db.Database.CurrentTransaction
            ?? throw new InvalidOperationException("A platform audit row written with the change it records needs that change's open transaction: call db.Database.BeginTransactionAsync first.");
        return AuditChain.AppendAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(), AuditChainRef.Platform, entry, clock, ct);
    }

    public Task<AuditVerification> VerifyAsync(TenantSchemaName tenant, CancellationToken ct, AuditHead? expectedHead = null) =>
        tenants.RunAsync(tenant, (db, token) => VerifyAsync(db, token, expectedHead), ct);

    /// <summary>Verifies the tenant's chain inside an open tenant unit of work (so a row appended after it links to what was verified).</summary>
    public async Task<AuditVerification> VerifyAsync(TenantDbContext db, CancellationToken ct, AuditHead? expectedHead = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        var tx = db.Database.CurrentTransaction ?? throw new TenantNotSetException();
        var verification = await AuditChain.VerifyAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(),
            AuditChainRef.Tenant(db.Scope!), db.PendingScopeStatements(), ct, expectedHead);
        db.ScopeSent();
        // Every organization's log starts with its creation: an empty one was emptied.
        return verification is { Ok: true, CheckedRows: 0 }
            ? AuditVerification.Broken(0, 1, "the log is empty, but every organization's log starts with its creation: rows were removed")
            : verification;
    }

    public async Task<AuditVerification> VerifyPlatformAsync(CancellationToken ct, AuditHead? expectedHead = null)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        return await AuditChain.VerifyAsync(db.Database.GetDbConnection(), null, AuditChainRef.Platform, ct, expectedHead);
    }
}
