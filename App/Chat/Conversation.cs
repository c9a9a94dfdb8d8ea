using AgentSpace.Agents;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Chat;

/// <summary>One person's conversation with one agent.</summary>
public sealed class Conversation
{
    public required Guid Id { get; init; }
    public required Guid AgentId { get; init; }
    /// <summary>The person it belongs to (a platform user id, kept as a plain value).</summary>
    public required Guid UserId { get; init; }
    public required string Title { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }
}

public static class ChatRoles
{
    public const string User = "user";
    public const string Assistant = "assistant";
}

/// <summary>Where a turn stands. A turn is written before the model call and completed after it.</summary>
public static class TurnStatus
{
    public const string Complete = "complete";
    /// <summary>The model call is running (or the process stopped while it ran; see <see cref="Interrupted"/>).</summary>
    public const string Streaming = "streaming";
    /// <summary>The page or the process went away mid-answer; what was written is kept.</summary>
    public const string Interrupted = "interrupted";
    /// <summary>Stop was pressed; what was written is kept.</summary>
    public const string Stopped = "stopped";
    /// <summary>The provider failed; the turn can be retried.</summary>
    public const string Failed = "failed";
    /// <summary>The run reached its cost cap before the next call.</summary>
    public const string HaltedByCostCap = "halted";
    /// <summary>A limit or the output filter refused the turn.</summary>
    public const string Refused = "refused";
}

/// <summary>One turn in a conversation.</summary>
public sealed class ChatTurn
{
    public required Guid Id { get; init; }
    public required Guid ConversationId { get; init; }
    public required string Role { get; init; }
    public string Content { get; set; } = "";
    public required string Status { get; set; }
    /// <summary>What the person is told when the turn did not complete (never a stack trace).</summary>
    public string? Error { get; set; }
    /// <summary>Who answered: a provider's name, or "Offline".</summary>
    public string? ProviderLabel { get; set; }
    public string? Model { get; set; }
    /// <summary>The run this assistant turn belongs to (the unit the cost cap applies to).</summary>
    public Guid? RunId { get; set; }
    /// <summary>For an assistant turn, the user turn it answers.</summary>
    public Guid? ReplyToId { get; init; }
    public int InputTokens { get; set; }
    public int OutputTokens { get; set; }
    public decimal CostUsd { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; set; }
}

/// <summary>One tool call made during an assistant turn, as shown in the chat and written to the audit log.</summary>
public sealed class ToolCallRecord
{
    public required Guid Id { get; init; }
    public required Guid MessageId { get; init; }
    public required int Sequence { get; init; }
    public required string Tool { get; init; }
    /// <summary>JSON of the arguments with secrets and long values redacted.</summary>
    public required string ArgumentsRedacted { get; init; }
    /// <summary>The model's stated reason, where it gave one.</summary>
    public string? Reason { get; init; }
    public required string Outcome { get; init; }
    public int ResultChars { get; init; }
    /// <summary>A short preview of the result for the collapsible step.</summary>
    public string? ResultPreview { get; init; }
    public int DurationMs { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

internal sealed class ConversationConfiguration : IEntityTypeConfiguration<Conversation>
{
    public void Configure(EntityTypeBuilder<Conversation> builder)
    {
        builder.ToTable("conversations");
        builder.HasKey(c => c.Id);
        builder.Property(c => c.Title).HasMaxLength(200);
        builder.HasOne<Agent>().WithMany().HasForeignKey(c => c.AgentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(c => new { c.UserId, c.AgentId, c.UpdatedAt });
    }
}

internal sealed class ChatTurnConfiguration : IEntityTypeConfiguration<ChatTurn>
{
    public void Configure(EntityTypeBuilder<ChatTurn> builder)
    {
        builder.ToTable("chat_messages");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Role).HasMaxLength(20);
        builder.Property(m => m.Status).HasMaxLength(20);
        builder.Property(m => m.Error).HasMaxLength(2000);
        builder.Property(m => m.ProviderLabel).HasMaxLength(100);
        builder.Property(m => m.Model).HasMaxLength(200);
        builder.Property(m => m.CostUsd).HasPrecision(18, 8);
        builder.HasOne<Conversation>().WithMany().HasForeignKey(m => m.ConversationId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(m => new { m.ConversationId, m.CreatedAt });
        builder.HasIndex(m => m.Status);
    }
}

internal sealed class ToolCallRecordConfiguration : IEntityTypeConfiguration<ToolCallRecord>
{
    public void Configure(EntityTypeBuilder<ToolCallRecord> builder)
    {
        builder.ToTable("tool_calls");
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Tool).HasMaxLength(100);
        builder.Property(t => t.ArgumentsRedacted).HasMaxLength(4000);
        builder.Property(t => t.Reason).HasMaxLength(2000);
        builder.Property(t => t.Outcome).HasMaxLength(20);
        builder.Property(t => t.ResultPreview).HasMaxLength(2000);
        builder.HasOne<ChatTurn>().WithMany().HasForeignKey(t => t.MessageId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(t => new { t.MessageId, t.Sequence });
    }
}
