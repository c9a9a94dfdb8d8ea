using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Limits;

/// <summary>
/// A model call in flight: its projected cost, held from the cost guard's check until the call's usage is
/// recorded (or the call made none), so calls checked at the same time cannot each see the same room under
/// a budget. Rows older than <see cref="CostGuard.ReservationLifetime"/> no longer count (a node that died
/// mid-call must not block spending for ever). Ordinary rows for the tenant role: they hold no spend.
/// </summary>
public sealed class UsageReservation
{
    public required Guid Id { get; init; }
    public required Guid RunId { get; init; }
    public Guid? AgentId { get; init; }
    public required decimal ProjectedUsd { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

internal sealed class UsageReservationConfiguration : IEntityTypeConfiguration<UsageReservation>
{
    public void Configure(EntityTypeBuilder<UsageReservation> builder)
    {
        builder.ToTable("usage_reservations");
        builder.HasKey(r => r.Id);
        builder.Property(r => r.ProjectedUsd).HasPrecision(18, 8);
        builder.HasIndex(r => r.CreatedAt);
        builder.HasIndex(r => r.RunId);
        builder.HasIndex(r => r.AgentId);
    }
}
