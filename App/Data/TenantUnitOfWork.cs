using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Data;

/// <summary>
/// The only way to touch tenant data: one transaction that starts with
/// <c>set_config('role', t_x, true)</c> and <c>set_config('search_path', 't_x, extensions', true)</c>
/// (SET LOCAL semantics, so nothing outlives the transaction and PgBouncer transaction pooling works).
/// </summary>
public sealed class TenantUnitOfWork(IDbContextFactory<TenantDbContext> factory)
{
    public async Task<T> RunAsync<T>(TenantSchemaName tenant, Func<TenantDbContext, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(work);
        await using var db = await factory.CreateDbContextAsync(ct);
        await db.Database.OpenConnectionAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Scope = tenant;
        await db.Database.ExecuteSqlRawAsync(
            "select set_config('role', {0}, true), set_config('search_path', {1}, true)",
            [tenant.Value, tenant.Value + ", extensions"], ct);
        var result = await work(db, ct);
        await db.SaveChangesAsync(ct);
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
