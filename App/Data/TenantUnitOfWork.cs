using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace AgentSpace.Data;

/// <summary>
/// The only way to touch tenant data: one transaction in which every statement runs as the tenant's role
/// with the tenant's schema on the search_path (<c>SET LOCAL ROLE t_x; SET LOCAL search_path = t_x, extensions</c>:
/// transaction-local, so nothing outlives the transaction and PgBouncer transaction pooling works).
/// The scope is not sent on its own: <see cref="TenantScopeGuard"/> puts it in front of the unit's first
/// statement, in the same round trip. Raw ADO.NET goes through <see cref="TenantDbContext.CreateCommand"/>.
/// <para>
/// <b>No slow call inside a unit of work.</b> A unit of work holds a pooled connection, a transaction and,
/// once it appends audit, the tenant's audit lock, which every other writer of that tenant waits for.
/// Model calls, streams, outbound HTTP, file extraction and email never run inside one: write the state
/// before the slow call (one unit of work), make the call, then record the result (another). Inside
/// <c>work</c>, any <c>IHttpClientFactory</c> client throws (outside Production; see
/// <see cref="SlowCallGuard"/>), and other slow paths check <see cref="SlowCallGuard.InsideUnitOfWork"/>.
/// </para>
/// </summary>
public sealed class TenantUnitOfWork(IDbContextFactory<TenantDbContext> factory)
{
    public async Task<T> RunAsync<T>(TenantSchemaName tenant, Func<TenantDbContext, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(work);
        await using var db = await factory.CreateDbContextAsync(ct);
        if (db.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.Interceptors?.Contains(TenantScopeGuard.Instance) != true)
        {
            // Without the guard no statement would carry the scope: refuse rather than run as the login role.
            throw new InvalidOperationException("TenantDbContext options lack the tenant scope guard: configure them with UseTenantScope().");
        }
        await db.Database.OpenConnectionAsync(ct);
        // Npgsql defers BEGIN until the first statement; the scope goes with that statement too.
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Scope = tenant;
        using var inside = SlowCallGuard.Enter();
        var result = await work(db, ct);
        if (db.ChangeTracker.HasChanges())
        {
            await db.SaveChangesAsync(ct);
        }
        await tx.CommitAsync(ct);
        return result;
    }

    public Task RunAsync(TenantSchemaName tenant, Func<TenantDbContext, CancellationToken, Task> work, CancellationToken ct) =>
        RunAsync<bool>(tenant, async (db, token) =>
        {
            await work(db, token);
            return true;
        }, ct);
}
