using AgentSpace.Audit;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Data;

/// <summary>
/// One model for every tenant. It names no schema: the schema comes from <c>SET LOCAL search_path</c>
/// in <see cref="TenantUnitOfWork"/>. Used without a tenant scope, every command throws (see
/// <see cref="TenantScopeGuard"/>).
/// </summary>
public sealed class TenantDbContext(DbContextOptions<TenantDbContext> options) : DbContext(options)
{
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    /// <summary>Set only by <see cref="TenantUnitOfWork"/> and <see cref="TenantMigrator"/>.</summary>
    internal TenantSchemaName? Scope { get; set; }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfiguration(new AuditEventConfiguration(schema: null));
        SnakeCaseNames.Apply(modelBuilder);
    }
}
