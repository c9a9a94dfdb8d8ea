using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Tenancy;

public enum OrgRole
{
    Viewer = 0,
    Member = 1,
    Admin = 2,
    Owner = 3,
}

public sealed class Organization
{
    public required Guid Id { get; init; }
    public required string Slug { get; set; }
    public required string Name { get; set; }
    /// <summary>Server-generated <c>t_&lt;32 hex&gt;</c>; also the tenant's PostgreSQL role.</summary>
    public required string SchemaName { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public List<Membership> Members { get; } = [];
}

public sealed class Membership
{
    public required Guid OrganizationId { get; init; }
    public required Guid UserId { get; init; }
    public required OrgRole Role { get; set; }
    public required DateTimeOffset JoinedAt { get; init; }
    public Organization? Organization { get; init; }
}

public sealed class Invitation
{
    public required Guid Id { get; init; }
    public required Guid OrganizationId { get; init; }
    /// <summary>Lower-cased; the invitation works only for an account with this email.</summary>
    public required string Email { get; init; }
    public required OrgRole Role { get; init; }
    public required byte[] TokenHash { get; init; }
    public required Guid InvitedBy { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public DateTimeOffset? AcceptedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

internal sealed class OrganizationConfiguration : IEntityTypeConfiguration<Organization>
{
    public void Configure(EntityTypeBuilder<Organization> builder)
    {
        builder.ToTable("organizations");
        builder.HasKey(o => o.Id);
        builder.Property(o => o.Slug).HasMaxLength(40);
        builder.Property(o => o.Name).HasMaxLength(100);
        builder.Property(o => o.SchemaName).HasMaxLength(40);
        builder.HasIndex(o => o.Slug).IsUnique();
        builder.HasIndex(o => o.SchemaName).IsUnique();
        builder.HasMany(o => o.Members).WithOne(m => m.Organization).HasForeignKey(m => m.OrganizationId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class MembershipConfiguration : IEntityTypeConfiguration<Membership>
{
    public void Configure(EntityTypeBuilder<Membership> builder)
    {
        builder.ToTable("memberships");
        builder.HasKey(m => new { m.OrganizationId, m.UserId });
        builder.HasIndex(m => m.UserId);
        builder.Property(m => m.Role).HasConversion<string>().HasMaxLength(10);
        builder.HasOne<Identity.AppUser>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class InvitationConfiguration : IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Invitation> builder)
    {
        builder.ToTable("invitations");
        builder.HasKey(i => i.Id);
        builder.Property(i => i.Email).HasMaxLength(320);
        builder.Property(i => i.Role).HasConversion<string>().HasMaxLength(10);
        builder.HasIndex(i => i.TokenHash).IsUnique();
        builder.HasIndex(i => new { i.OrganizationId, i.Email });
        builder.HasOne<Organization>().WithMany().HasForeignKey(i => i.OrganizationId).OnDelete(DeleteBehavior.Cascade);
    }
}
