using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Chat;

/// <summary>
/// A numbered source an assistant turn cites ("[2]"): a passage of a document, kept by reference with the document's
/// name and position as they were, so the citation still reads after the document is deleted (its text then is not).
/// </summary>
public sealed class TurnSource
{
    public required Guid MessageId { get; init; }
    public required int Number { get; init; }
    public required Guid ChunkId { get; init; }
    public required Guid DocumentId { get; init; }
    public required string DocumentName { get; init; }
    public int? Page { get; init; }
    public required string HeadingPath { get; init; }
}

internal sealed class TurnSourceConfiguration : IEntityTypeConfiguration<TurnSource>
{
    public void Configure(EntityTypeBuilder<TurnSource> builder)
    {
        builder.ToTable("chat_turn_sources");
        builder.HasKey(s => new { s.MessageId, s.Number });
        builder.HasOne<ChatTurn>().WithMany().HasForeignKey(s => s.MessageId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(s => s.DocumentName).HasMaxLength(200);
        builder.Property(s => s.HeadingPath).HasMaxLength(1000);
    }
}
