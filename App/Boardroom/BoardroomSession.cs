using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Boardroom;

/// <summary>Where a session stands.</summary>
public static class SessionStatus
{
    /// <summary>Turns are being taken (or its process stopped while they were: see <see cref="LiveBoardrooms"/>).</summary>
    public const string Running = "running";
    /// <summary>Ended by a provider failure; it resumes from the last completed turn.</summary>
    public const string Failed = "failed";
    /// <summary>Ended (consensus, max rounds, budget, Stop) with its decision record written.</summary>
    public const string Ended = "ended";
}

/// <summary>Members see the brief, their own turns and the chair's syntheses (sealed), or also others' words in the envelope (open).</summary>
public static class BoardroomModes
{
    public const string Sealed = "sealed";
    public const string Open = "open";
}

public static class SpeakerOrders
{
    public const string RoundRobin = "round_robin";
    public const string ChairPicks = "chair_picks";
}

/// <summary>
/// A boardroom session: the brief, who sits at the table, the rules (mode, order, rounds, budget) and how it ended.
/// Agents are referenced by plain id with their names kept, so a record stays readable after an agent is deleted.
/// </summary>
public sealed class BoardroomSession
{
    public required Guid Id { get; init; }
    public required string Question { get; init; }
    public string Context { get; init; } = "";
    /// <summary>Knowledge documents attached to the brief: every participant is given their best passages.</summary>
    public Guid[] DocumentIds { get; init; } = [];
    public required string Mode { get; init; }
    public required string SpeakerOrder { get; init; }
    public required int MaxRounds { get; init; }
    public required decimal BudgetUsd { get; init; }
    public required Guid ChairAgentId { get; init; }
    public required string ChairName { get; init; }
    public required string Status { get; set; }
    /// <summary>A <see cref="StopReasons"/> value once the session stopped (a failed session keeps <see cref="StopReasons.ProviderFailure"/> until resumed).</summary>
    public string? StopReason { get; set; }
    /// <summary>What the members are told about the stop (the provider's error, the limit that halted it).</summary>
    public string? StopDetail { get; set; }
    public required Guid CreatedBy { get; init; }
    public required string CreatedByName { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? EndedAt { get; set; }
    /// <summary>The process running it (a node id), so another node does not take a session over while it runs.</summary>
    public Guid? RunId { get; set; }
    public Guid? DecisionId { get; set; }
}

/// <summary>A member agent's seat at the table, in speaking order.</summary>
public sealed class BoardroomMember
{
    public required Guid SessionId { get; init; }
    public required Guid AgentId { get; init; }
    public required int Seat { get; init; }
    public required string Name { get; init; }
}

public static class TurnKinds
{
    /// <summary>A member's contribution to a round.</summary>
    public const string Member = "member";
    /// <summary>The chair's synthesis after a round, with its consensus judgement.</summary>
    public const string Synthesis = "synthesis";
    /// <summary>The chair naming the next speaker (speaker order "chair picks").</summary>
    public const string Pick = "pick";
    /// <summary>The chair writing the decision record.</summary>
    public const string Record = "record";
    /// <summary>A person's note between rounds; enters the next round inside the envelope.</summary>
    public const string Note = "note";
}

public static class BoardroomTurnStatus
{
    public const string Streaming = "streaming";
    public const string Complete = "complete";
    public const string Stopped = "stopped";
    public const string Failed = "failed";
    /// <summary>The output filter withheld it (it held the agent's instructions or a secret).</summary>
    public const string Withheld = "withheld";
}

/// <summary>One turn of a session: a member's words, a chair's synthesis or pick, or a person's note.</summary>
public sealed class BoardroomTurn
{
    public required Guid Id { get; init; }
    public required Guid SessionId { get; init; }
    public required int Round { get; init; }
    public required int Sequence { get; init; }
    public required string Kind { get; init; }
    /// <summary>The speaking agent; null for a person's note.</summary>
    public Guid? AgentId { get; init; }
    /// <summary>The author of a note.</summary>
    public Guid? AuthorId { get; init; }
    public required string Speaker { get; init; }
    public string Content { get; set; } = "";
    public required string Status { get; set; }
    public string? Error { get; set; }
    /// <summary>A member's stated stance (agree, disagree, undecided) and confidence, or the chair's consensus judgement.</summary>
    public string? Stance { get; set; }
    public double? Confidence { get; set; }
    public string? ProviderLabel { get; set; }
    public string? Model { get; set; }
    public int InputTokens { get; set; }
    public int OutputTokens { get; set; }
    public decimal CostUsd { get; set; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; set; }
}

/// <summary>A knowledge passage a participant was given, numbered once per session so citations mean the same everywhere.</summary>
public sealed class BoardroomSource
{
    public required Guid SessionId { get; init; }
    public required int Number { get; init; }
    public required Guid ChunkId { get; init; }
    public required Guid DocumentId { get; init; }
    public required string DocumentName { get; init; }
    public int? Page { get; init; }
    public required string HeadingPath { get; init; }
    public required string Excerpt { get; init; }
}

/// <summary>
/// A finalized decision record. Append-only for the tenant's role (the database refuses UPDATE and DELETE): a change
/// is a new row naming the one it supersedes, and its hash is in the audit chain.
/// </summary>
public sealed class DecisionRecord
{
    public required Guid Id { get; init; }
    public required Guid SessionId { get; init; }
    /// <summary>1 for the chair's record, then one more for each superseding version.</summary>
    public required int Version { get; init; }
    /// <summary><see cref="DecisionHash.Serialize"/> of the content: the exact text that was hashed.</summary>
    public required string Content { get; init; }
    public required string Hash { get; init; }
    public Guid? SupersedesId { get; init; }
    /// <summary>Every agent that took part (members and chair), for the filter.</summary>
    public required Guid[] AgentIds { get; init; }
    public required DateTimeOffset FinalizedAt { get; init; }
    /// <summary>The person who finalized it (the session's creator for the chair's record), as a plain id and name.</summary>
    public required Guid FinalizedBy { get; init; }
    public required string FinalizedByName { get; init; }
}

internal sealed class BoardroomSessionConfiguration : IEntityTypeConfiguration<BoardroomSession>
{
    public void Configure(EntityTypeBuilder<BoardroomSession> builder)
    {
        builder.ToTable("boardroom_sessions");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Question).HasMaxLength(BoardroomLimits.MaxQuestion);
        builder.Property(s => s.Context).HasMaxLength(BoardroomLimits.MaxContext);
        builder.Property(s => s.Mode).HasMaxLength(20);
        builder.Property(s => s.SpeakerOrder).HasMaxLength(20);
        builder.Property(s => s.ChairName).HasMaxLength(200);
        builder.Property(s => s.Status).HasMaxLength(20);
        builder.Property(s => s.StopReason).HasMaxLength(40);
        builder.Property(s => s.StopDetail).HasMaxLength(2000);
        builder.Property(s => s.CreatedByName).HasMaxLength(320);
        builder.Property(s => s.BudgetUsd).HasPrecision(18, 6);
        builder.HasIndex(s => s.CreatedAt);
    }
}

internal sealed class BoardroomMemberConfiguration : IEntityTypeConfiguration<BoardroomMember>
{
    public void Configure(EntityTypeBuilder<BoardroomMember> builder)
    {
        builder.ToTable("boardroom_members");
        builder.HasKey(m => new { m.SessionId, m.AgentId });
        builder.Property(m => m.Name).HasMaxLength(200);
        builder.HasOne<BoardroomSession>().WithMany().HasForeignKey(m => m.SessionId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class BoardroomTurnConfiguration : IEntityTypeConfiguration<BoardroomTurn>
{
    public void Configure(EntityTypeBuilder<BoardroomTurn> builder)
    {
        builder.ToTable("boardroom_turns");
        builder.HasKey(t => t.Id);
        builder.Property(t => t.Kind).HasMaxLength(20);
        builder.Property(t => t.Speaker).HasMaxLength(320);
        builder.Property(t => t.Status).HasMaxLength(20);
        builder.Property(t => t.Error).HasMaxLength(2000);
        builder.Property(t => t.Stance).HasMaxLength(20);
        builder.Property(t => t.ProviderLabel).HasMaxLength(100);
        builder.Property(t => t.Model).HasMaxLength(200);
        builder.Property(t => t.CostUsd).HasPrecision(18, 8);
        builder.HasOne<BoardroomSession>().WithMany().HasForeignKey(t => t.SessionId).OnDelete(DeleteBehavior.Cascade);
        // Notes are added while turns are taken, so they share no sequence with them: ordered by (sequence, time).
        builder.HasIndex(t => new { t.SessionId, t.Sequence });
    }
}

internal sealed class BoardroomSourceConfiguration : IEntityTypeConfiguration<BoardroomSource>
{
    public void Configure(EntityTypeBuilder<BoardroomSource> builder)
    {
        builder.ToTable("boardroom_sources");
        builder.HasKey(s => new { s.SessionId, s.Number });
        builder.Property(s => s.DocumentName).HasMaxLength(300);
        builder.Property(s => s.HeadingPath).HasMaxLength(1000);
        builder.HasOne<BoardroomSession>().WithMany().HasForeignKey(s => s.SessionId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(s => new { s.SessionId, s.ChunkId }).IsUnique();
    }
}

internal sealed class DecisionRecordConfiguration : IEntityTypeConfiguration<DecisionRecord>
{
    public void Configure(EntityTypeBuilder<DecisionRecord> builder)
    {
        builder.ToTable("decision_records");
        builder.HasKey(r => r.Id);
        // text (not jsonb) keeps the exact bytes that were hashed.
        builder.Property(r => r.Content).HasColumnType("text");
        builder.Property(r => r.Hash).HasMaxLength(64);
        builder.Property(r => r.FinalizedByName).HasMaxLength(320);
        // No cascade: a record outlives nothing it points at being removed, and the tenant role cannot delete it anyway.
        builder.HasOne<BoardroomSession>().WithMany().HasForeignKey(r => r.SessionId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<DecisionRecord>().WithMany().HasForeignKey(r => r.SupersedesId).OnDelete(DeleteBehavior.Restrict);
        // One successor per record: two edits made at once cannot fork the history.
        builder.HasIndex(r => r.SupersedesId).IsUnique();
        builder.HasIndex(r => r.FinalizedAt);
        builder.HasIndex(r => r.AgentIds).HasMethod("gin");
    }
}

/// <summary>Bounds on what a session takes.</summary>
public static class BoardroomLimits
{
    public const int MinMembers = 2;
    public const int MaxMembers = 7;
    public const int MinRounds = 1;
    public const int MaxRounds = 5;
    public const int MaxQuestion = 2000;
    public const int MaxContext = 20_000;
    public const int MaxNote = 4000;
    /// <summary>Notes waiting for one round: each goes into every later prompt, so their number is bounded.</summary>
    public const int MaxNotesPerRound = 5;
    public const int MaxNotesPerSession = 20;
    public const int MaxDocuments = 20;
    public const decimal MaxBudgetUsd = 1000m;
}
