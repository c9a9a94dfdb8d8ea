using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Identity;

public sealed class AppUser : IdentityUser<Guid>
{
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>A suspended account cannot sign in and its open sessions end at the next revalidation.</summary>
    public DateTimeOffset? SuspendedAt { get; set; }

    /// <summary>
    /// A new, confirmed account (the magic link proved the address). Email, user name and their
    /// "normalized" columns all hold <see cref="EmailAddress.Normalize"/>'s one form, the value every look-up uses.
    /// </summary>
    public static AppUser Create(string email, DateTimeOffset now)
    {
        var address = EmailAddress.Normalize(email) ?? throw new ArgumentException("Not a valid email address.", nameof(email));
        return new()
        {
            Id = Guid.CreateVersion7(),
            Email = address,
            NormalizedEmail = address,
            UserName = address,
            NormalizedUserName = address,
            EmailConfirmed = true,
            SecurityStamp = Guid.NewGuid().ToString("N"),
            ConcurrencyStamp = Guid.NewGuid().ToString("N"),
            CreatedAt = now,
        };
    }
}

/// <summary>A magic-link token. Only the SHA-256 of the token is stored.</summary>
public sealed class SignInToken
{
    public required Guid Id { get; init; }
    public required string Email { get; init; }
    /// <summary>The mailbox the per-address limit counts (<see cref="EmailAddress.RateKey"/>).</summary>
    public required string EmailKey { get; init; }
    public required byte[] TokenHash { get; init; }
    public string? RequestIp { get; init; }
    /// <summary>The client bucket the per-address limit counts (<see cref="Hosting.ClientAddress.Bucket(string?)"/>).</summary>
    public required string IpBucket { get; init; }
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
    /// <summary>Last use, kept to within a minute (not written on every request); the idle limit counts from it.</summary>
    public required DateTimeOffset LastSeenAt { get; set; }
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
        builder.Property(t => t.EmailKey).HasMaxLength(320);
        builder.Property(t => t.RequestIp).HasMaxLength(64);
        builder.Property(t => t.IpBucket).HasMaxLength(64);
        builder.HasIndex(t => t.TokenHash).IsUnique();
        builder.HasIndex(t => new { t.EmailKey, t.CreatedAt });
        builder.HasIndex(t => new { t.IpBucket, t.CreatedAt });
        builder.HasIndex(t => t.CreatedAt);
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
