using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Identity;

public sealed class AppUser : IdentityUser<Guid>
{
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>A suspended account cannot sign in and its open sessions end at the next revalidation.</summary>
    public DateTimeOffset? SuspendedAt { get; set; }

    /// <summary>A new, confirmed account for a normalized email (the magic link proved the address).</summary>
    public static AppUser Create(string email, DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(),
        Email = email,
        NormalizedEmail = email.ToUpperInvariant(),
        UserName = email,
        NormalizedUserName = email.ToUpperInvariant(),
        EmailConfirmed = true,
        SecurityStamp = Guid.NewGuid().ToString("N"),
        ConcurrencyStamp = Guid.NewGuid().ToString("N"),
        CreatedAt = now,
    };
}

/// <summary>A magic-link token. Only the SHA-256 of the token is stored.</summary>
public sealed class SignInToken
{
    public required Guid Id { get; init; }
    public required string Email { get; init; }
    public required byte[] TokenHash { get; init; }
    public string? RequestIp { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A server-side session; the cookie carries its id, so sign-out can end it for good.</summary>
public sealed class UserSession
{
    public required Guid Id { get; init; }
    public required Guid UserId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; set; }
    public string? Ip { get; init; }
    public string? UserAgent { get; init; }
}

internal sealed class AppUserConfiguration : IEntityTypeConfiguration<AppUser>
{
    public void Configure(EntityTypeBuilder<AppUser> builder) => builder.ToTable("users");
}

internal sealed class SignInTokenConfiguration : IEntityTypeConfiguration<SignInToken>
{
    public void Configure(EntityTypeBuilder<SignInToken> builder)
    {
        builder.ToTable("sign_in_tokens");
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Email).HasMaxLength(320);
        builder.Property(t => t.RequestIp).HasMaxLength(64);
        builder.HasIndex(t => t.TokenHash).IsUnique();
        builder.HasIndex(t => new { t.Email, t.CreatedAt });
        builder.HasIndex(t => new { t.RequestIp, t.CreatedAt });
    }
}

internal sealed class UserSessionConfiguration : IEntityTypeConfiguration<UserSession>
{
    public void Configure(EntityTypeBuilder<UserSession> builder)
    {
        builder.ToTable("user_sessions");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Ip).HasMaxLength(64);
        builder.Property(s => s.UserAgent).HasMaxLength(400);
        builder.HasIndex(s => s.UserId);
        builder.HasOne<AppUser>().WithMany().HasForeignKey(s => s.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}
