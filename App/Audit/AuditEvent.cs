using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Audit;

/// <summary>
/// One link of a hash chain: <see cref="Hash"/> = SHA-256(<see cref="PrevHash"/> || canonical form).
/// The same shape is used for each tenant's log and for the platform log (sign-ins, deleted organizations).
/// </summary>
public sealed class AuditEvent
{
    public required long Seq { get; init; }
    public required DateTime OccurredAt { get; init; }
    public Guid? ActorId { get; init; }
    public string? ActorEmail { get; init; }
    public required string Action { get; init; }
    public string? Target { get; init; }
    public required string Outcome { get; init; }
    public string? Ip { get; init; }
    public required string Details { get; init; }
    public required byte[] PrevHash { get; init; }
    public required byte[] Hash { get; init; }
}

internal sealed class AuditEventConfiguration(string? schema) : IEntityTypeConfiguration<AuditEvent>
{
    public void Configure(EntityTypeBuilder<AuditEvent> builder)
    {
        builder.ToTable("audit_events", schema);
        builder.HasKey(e => e.Seq);
        builder.Property(e => e.Seq).ValueGeneratedNever();
        builder.Property(e => e.OccurredAt).HasColumnType("timestamp with time zone");
        builder.Property(e => e.Action).HasMaxLength(100);
        builder.Property(e => e.Outcome).HasMaxLength(20);
        builder.Property(e => e.ActorEmail).HasMaxLength(320);
        builder.Property(e => e.Target).HasMaxLength(400);
        builder.Property(e => e.Ip).HasMaxLength(64);
        // json (not jsonb) keeps the exact text that was hashed.
        builder.Property(e => e.Details).HasColumnType("json");
        builder.Property(e => e.PrevHash).HasColumnType("bytea");
        builder.Property(e => e.Hash).HasColumnType("bytea");
        builder.HasIndex(e => e.OccurredAt);
        builder.HasIndex(e => e.Action);
        builder.HasIndex(e => e.ActorEmail);
    }
}
