using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Providers;

public enum ModelProviderKind
{
    /// <summary>Any server speaking OpenAI's chat-completions protocol at a base URL.</summary>
    OpenAICompatible,
    Anthropic,
}

/// <summary>An organization's connection to a model provider. Its API key is sealed by the vault.</summary>
public sealed class ModelProvider
{
    public required Guid Id { get; init; }
    public required string Name { get; set; }
    public required ModelProviderKind Kind { get; set; }
    public required string BaseUrl { get; set; }
    /// <summary>Sealed by the vault with purpose "model-provider-api-key" and this provider's id.</summary>
    public byte[]? ApiKeyCiphertext { get; set; }
    public int? ApiKeyVersion { get; set; }
    /// <summary>Masked, e.g. <c>sk-…a1b2</c>; the only form of the key ever shown again.</summary>
    public string? ApiKeyHint { get; set; }
    public string? EmbeddingModel { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }
    public List<ProviderModel> Models { get; } = [];

    /// <summary>
    /// Everything a client built from this row depends on (address, kind, name, key, last change), for caches that
    /// must miss as soon as any of it changes.
    /// </summary>
    public string Fingerprint(Guid organizationId, string model) =>
        string.Join('\n', organizationId.ToString("N"), Id.ToString("N"), model, Kind, BaseUrl, Name, UpdatedAt.UtcTicks, ApiKeyVersion,
            ApiKeyCiphertext is null ? "" : Convert.ToBase64String(ApiKeyCiphertext));
}

/// <summary>A model the provider offers, with its price per million tokens (USD).</summary>
public sealed class ProviderModel
{
    public required Guid ProviderId { get; init; }
    public required string ModelId { get; init; }
    public decimal InputUsdPerMillion { get; set; }
    public decimal OutputUsdPerMillion { get; set; }
}

internal sealed class ModelProviderConfiguration : IEntityTypeConfiguration<ModelProvider>
{
    public void Configure(EntityTypeBuilder<ModelProvider> builder)
    {
        builder.ToTable("model_providers");
        builder.HasKey(p => p.Id);
        builder.Property(p => p.Name).HasMaxLength(100);
        builder.HasIndex(p => p.Name).IsUnique();
        builder.Property(p => p.Kind).HasConversion<string>().HasMaxLength(40);
        builder.Property(p => p.BaseUrl).HasMaxLength(500);
        builder.Property(p => p.ApiKeyCiphertext).HasColumnType("bytea");
        builder.Property(p => p.ApiKeyHint).HasMaxLength(40);
        builder.Property(p => p.EmbeddingModel).HasMaxLength(200);
        builder.HasMany(p => p.Models).WithOne().HasForeignKey(m => m.ProviderId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ProviderModelConfiguration : IEntityTypeConfiguration<ProviderModel>
{
    public void Configure(EntityTypeBuilder<ProviderModel> builder)
    {
        builder.ToTable("provider_models");
        builder.HasKey(m => new { m.ProviderId, m.ModelId });
        builder.Property(m => m.ModelId).HasMaxLength(200);
        builder.Property(m => m.InputUsdPerMillion).HasPrecision(18, 6);
        builder.Property(m => m.OutputUsdPerMillion).HasPrecision(18, 6);
    }
}
