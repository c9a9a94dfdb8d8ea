using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Vault;

/// <summary>
/// One organization's data key, wrapped (AES-256-GCM) under a master key that never enters the database.
/// Deleting the row is crypto-shredding: every ciphertext sealed under it becomes unreadable.
/// </summary>
public sealed class TenantDataKey
{
    public required Guid OrganizationId { get; init; }
    public required int Version { get; init; }
    /// <summary>nonce (12) || ciphertext (32) || tag (16).</summary>
    public required byte[] WrappedKey { get; set; }
    /// <summary>Which master key wrapped it: a fingerprint of that key, never the key.</summary>
    public required string MasterKeyId { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? RewrappedAt { get; set; }
}

internal sealed class TenantDataKeyConfiguration : IEntityTypeConfiguration<TenantDataKey>
{
    public void Configure(EntityTypeBuilder<TenantDataKey> builder)
    {
        builder.ToTable("tenant_data_keys", "platform");
        builder.HasKey(k => new { k.OrganizationId, k.Version });
        builder.Property(k => k.WrappedKey).HasColumnType("bytea");
        builder.Property(k => k.MasterKeyId).HasMaxLength(64);
        builder.HasIndex(k => k.MasterKeyId);
    }
}
