using AgentSpace.Audit;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Data;

/// <summary>What spans tenants: accounts, sign-in tokens, sessions, organizations, memberships, invitations, platform audit.</summary>
public sealed class PlatformDbContext(DbContextOptions<PlatformDbContext> options)
    : IdentityUserContext<AppUser, Guid>(options)
{
    public const string Schema = "platform";

    public DbSet<SignInToken> SignInTokens => Set<SignInToken>();
    public DbSet<UserSession> Sessions => Set<UserSession>();
    public DbSet<Organization> Organizations => Set<Organization>();
    public DbSet<Membership> Memberships => Set<Membership>();
    public DbSet<Invitation> Invitations => Set<Invitation>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<TenantDataKey> TenantDataKeys => Set<TenantDataKey>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.HasDefaultSchema(Schema);
        builder.Entity<IdentityUserClaim<Guid>>().ToTable("user_claims");
        builder.Entity<IdentityUserLogin<Guid>>().ToTable("user_logins");
        builder.Entity<IdentityUserToken<Guid>>().ToTable("user_tokens");
        builder.ApplyConfiguration(new AppUserConfiguration());
        builder.ApplyConfiguration(new SignInTokenConfiguration());
        builder.ApplyConfiguration(new UserSessionConfiguration());
        builder.ApplyConfiguration(new OrganizationConfiguration());
        builder.ApplyConfiguration(new MembershipConfiguration());
        builder.ApplyConfiguration(new InvitationConfiguration());
        builder.ApplyConfiguration(new AuditEventConfiguration(Schema));
        builder.ApplyConfiguration(new TenantDataKeyConfiguration());
        SnakeCaseNames.Apply(builder);
    }
}
