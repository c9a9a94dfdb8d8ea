using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Limits;

/// <summary>
/// One model call's tokens and cost: the usage ledger, append-only for the tenant role. No foreign keys:
/// spend stays on the books when an agent or conversation is deleted.
/// </summary>
public sealed class UsageRecord
{
    public required Guid Id { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
    /// <summary>Which path called the model: chat, admin, workflow, boardroom.</summary>
    public required string Source { get; init; }
    public Guid? AgentId { get; init; }
    public Guid? ConversationId { get; init; }
    public Guid? MessageId { get; init; }
    /// <summary>The run the per-run cost cap applies to.</summary>
    public required Guid RunId { get; init; }
    public Guid? UserId { get; init; }
    public required string ProviderLabel { get; init; }
    public required string Model { get; init; }
    public required int InputTokens { get; init; }
    public required int OutputTokens { get; init; }
    public required decimal CostUsd { get; init; }
    /// <summary>True when the tokens were counted locally because the provider reported none.</summary>
    public required bool Estimated { get; init; }
}

/// <summary>The organization's own limits (one row).</summary>
public sealed class OrgLimitSettings
{
    public const int SingletonId = 1;

    public required int Id { get; init; }
    /// <summary>Spend across all agents per calendar month (UTC); null: no quota.</summary>
    public decimal? MonthlyQuotaUsd { get; set; }
    public required DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class UsageRecordConfiguration : IEntityTypeConfiguration<UsageRecord>
{
    public void Configure(EntityTypeBuilder<UsageRecord> builder)
    {
        builder.ToTable("usage_records");
        builder.HasKey(u => u.Id);
        builder.Property(u => u.Source).HasMaxLength(20);
        builder.Property(u => u.ProviderLabel).HasMaxLength(100);
        builder.Property(u => u.Model).HasMaxLength(200);
        builder.Property(u => u.CostUsd).HasPrecision(18, 8);
        builder.HasIndex(u => new { u.AgentId, u.OccurredAt });
        builder.HasIndex(u => u.OccurredAt);
        builder.HasIndex(u => u.RunId);
        builder.HasIndex(u => u.ConversationId);
    }
}

internal sealed class OrgLimitSettingsConfiguration : IEntityTypeConfiguration<OrgLimitSettings>
{
    public void Configure(EntityTypeBuilder<OrgLimitSettings> builder)
    {
        builder.ToTable("org_limit_settings");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Id).ValueGeneratedNever();
        builder.Property(s => s.MonthlyQuotaUsd).HasPrecision(18, 6);
    }
}
