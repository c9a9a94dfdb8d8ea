using AgentSpace.Audit;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace AgentSpace.Tenancy;

/// <summary>
/// A change to platform rows (organizations, memberships, invitations) and the audit rows that record it,
/// committed together on one connection. Audit entries are collected while the change runs and written
/// at <see cref="CommitAsync"/>: platform rows first (as the login role), then the platform chain, then,
/// last because a tenant role cannot reach platform tables, the transaction takes the tenant's role and
/// search path with SET LOCAL semantics and appends to the tenant's chain. If any step fails, nothing is kept.
/// </summary>
/// <remarks>
/// Like every unit of work this holds a connection and, while it appends, an audit lock: no model calls,
/// HTTP or email inside it. Disposing without <see cref="CommitAsync"/> rolls everything back.
/// </remarks>
public sealed class PlatformTransaction : IAsyncDisposable
{
    private readonly IDbContextTransaction _transaction;
    private readonly TimeProvider _clock;
    private readonly List<AuditEntry> _platformEntries = [];
    private readonly List<AuditEntry> _tenantEntries = [];
    private TenantSchemaName? _tenant;

    private PlatformTransaction(PlatformDbContext db, IDbContextTransaction transaction, TimeProvider clock)
    {
        Db = db;
        _transaction = transaction;
        _clock = clock;
    }

    public PlatformDbContext Db { get; }

    internal static async Task<PlatformTransaction> BeginAsync(IDbContextFactory<PlatformDbContext> factory, TimeProvider clock, CancellationToken ct)
    {
        var db = await factory.CreateDbContextAsync(ct);
        try
        {
            await db.Database.OpenConnectionAsync(ct);
            var transaction = await db.Database.BeginTransactionAsync(ct);
            return new PlatformTransaction(db, transaction, clock);
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    /// <summary>Records an entry for <paramref name="tenant"/>'s chain, written at commit. One tenant per transaction.</summary>
    public void Audit(TenantSchemaName tenant, AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(entry);
        if (_tenant is not null && _tenant != tenant)
        {
            throw new InvalidOperationException("One platform transaction audits into one tenant's chain.");
        }
        _tenant = tenant;
        _tenantEntries.Add(entry);
    }

    /// <summary>Records an entry for the platform chain (for what outlives a tenant, such as its deletion), written at commit.</summary>
    public void AuditPlatform(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _platformEntries.Add(entry);
    }

    public async Task CommitAsync(CancellationToken ct)
    {
        await Db.SaveChangesAsync(ct);
        var connection = Db.Database.GetDbConnection();
        var transaction = _transaction.GetDbTransaction();
        foreach (var entry in _platformEntries)
        {
            await AuditChain.AppendAsync(connection, transaction, AuditChainRef.Platform, entry, _clock, ct);
        }
        if (_tenant is { } tenant && _tenantEntries.Count > 0)
        {
            // From here on the transaction is the tenant's role: it can append to its own log and nothing else.
            await Db.Database.ExecuteSqlRawAsync(tenant.ScopeStatements, ct);
            foreach (var entry in _tenantEntries)
            {
                await AuditChain.AppendAsync(connection, transaction, AuditChainRef.Tenant(tenant), entry, _clock, ct);
            }
        }
        await _transaction.CommitAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync();
        await Db.DisposeAsync();
    }
}
