using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace AgentSpace.Audit;

/// <summary>Writes audit events: into a tenant's chain inside its unit of work, or into the platform chain.</summary>
public sealed class AuditLog(IDbContextFactory<PlatformDbContext> platformFactory, TenantUnitOfWork tenants, TimeProvider clock)
{
    public const string TenantTable = "audit_events";
    public const string PlatformTable = "platform.audit_events";

    /// <summary>Appends inside an open tenant unit of work, so the event commits or rolls back with the change it records.</summary>
    public Task<AuditEvent> AppendAsync(TenantDbContext db, AuditEntry entry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        var tx = db.Database.CurrentTransaction ?? throw new TenantNotSetException();
        return AuditChain.AppendAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(), TenantTable, entry, clock.GetUtcNow(), ct);
    }

    public Task<AuditEvent> AppendAsync(TenantSchemaName tenant, AuditEntry entry, CancellationToken ct) =>
        tenants.RunAsync(tenant, (db, token) => AppendAsync(db, entry, token), ct);

    public async Task<AuditEvent> AppendPlatformAsync(AuditEntry entry, CancellationToken ct)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var appended = await AuditChain.AppendAsync(db.Database.GetDbConnection(), tx.GetDbTransaction(), PlatformTable, entry, clock.GetUtcNow(), ct);
        await tx.CommitAsync(ct);
        return appended;
    }

    public Task<AuditVerification> VerifyAsync(TenantSchemaName tenant, CancellationToken ct, AuditHead? expectedHead = null) =>
        tenants.RunAsync(tenant, (db, token) =>
            AuditChain.VerifyAsync(db.Database.GetDbConnection(), db.Database.CurrentTransaction!.GetDbTransaction(), TenantTable, token, expectedHead), ct);

    public async Task<AuditVerification> VerifyPlatformAsync(CancellationToken ct, AuditHead? expectedHead = null)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        return await AuditChain.VerifyAsync(db.Database.GetDbConnection(), null, PlatformTable, ct, expectedHead);
    }
}
