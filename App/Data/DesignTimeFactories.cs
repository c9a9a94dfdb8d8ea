using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace AgentSpace.Data;

/// <summary>Used by <c>dotnet ef migrations add</c> only; no database is contacted.</summary>
internal sealed class PlatformDesignTimeFactory : IDesignTimeDbContextFactory<PlatformDbContext>
{
    public PlatformDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PlatformDbContext>()
            .UseNpgsql("Host=localhost", n => n.MigrationsHistoryTable("__EFMigrationsHistory", PlatformDbContext.Schema)).Options);
}

internal sealed class TenantDesignTimeFactory : IDesignTimeDbContextFactory<TenantDbContext>
{
    public TenantDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql("Host=localhost", n => n.UseVector()).Options);
}
