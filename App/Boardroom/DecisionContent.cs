namespace AgentSpace.Boardroom;

/// <summary>An option the board weighed, with the chair's assessment of it.</summary>
public sealed record WeighedOption(string Option, string Assessment);

/// <summary>Where one member ended up: its position in a sentence or two, and how sure it was (0–1, or unknown).</summary>
public sealed record MemberPosition(string Member, string Position, double? Confidence);

/// <summary>A member that did not agree with the decision, and why.</summary>
public sealed record DissentNote(string Member, string Reason);

/// <summary>Something to do after the decision: what, who, and by when (when the chair gave a date).</summary>
public sealed record ActionItem(string Action, string Owner, DateOnly? Due);

/// <summary>A knowledge passage the session drew on, by its number in the session.</summary>
public sealed record DecisionCitation(int Number, string Document, int? Page, string HeadingPath, string Excerpt);

/// <summary>What one participant's model calls cost in the session.</summary>
public sealed record ParticipantCost(string Participant, string Role, int Turns, int InputTokens, int OutputTokens, decimal CostUsd);

/// <summary>
/// The body of a decision record: everything the chair wrote and the session measured, structured so it can be
/// searched, filtered, compared and exported. Immutable once finalized: its SHA-256 (<see cref="DecisionHash"/>)
/// goes into the audit log, and a change is a new record that supersedes this one.
/// </summary>
public sealed record DecisionContent
{
    public required string Question { get; init; }
    public required string Decision { get; init; }
    public required string Rationale { get; init; }
    public IReadOnlyList<WeighedOption> Options { get; init; } = [];
    public IReadOnlyList<MemberPosition> Positions { get; init; } = [];
    public IReadOnlyList<DissentNote> Dissent { get; init; } = [];
    public IReadOnlyList<string> Risks { get; init; } = [];
    public IReadOnlyList<ActionItem> ActionItems { get; init; } = [];
    public IReadOnlyList<DecisionCitation> Citations { get; init; } = [];
    public IReadOnlyList<ParticipantCost> Costs { get; init; } = [];
    /// <summary>A <see cref="StopReasons"/> value.</summary>
    public required string StopReason { get; init; }
    public required string Chair { get; init; }
    public required int RoundsHeld { get; init; }
    /// <summary>True when the offline provider answered for every participant: no language model wrote any of it.</summary>
    public required bool ProducedOffline { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset EndedAt { get; init; }
}

/// <summary>A finalized record as it is read, listed and exported.</summary>
public sealed record DecisionView(
    Guid Id,
    Guid SessionId,
    int Number,
    DecisionContent Content,
    string Hash,
    DateTimeOffset FinalizedAt,
    string FinalizedBy,
    Guid? SupersedesId,
    Guid? SupersededById)
{
    public string Status => SupersededById is null ? DecisionStatus.Final : DecisionStatus.Superseded;
}

public static class DecisionStatus
{
    public const string Final = "final";
    public const string Superseded = "superseded";
}

/// <summary>Why a session ended.</summary>
public static class StopReasons
{
    public const string Consensus = "consensus";
    public const string MaxRounds = "max_rounds";
    public const string BudgetHalt = "budget_halt";
    public const string Stopped = "stopped";
    public const string ProviderFailure = "provider_failure";

    public static string Describe(string? reason) => reason switch
    {
        Consensus => "Consensus reached",
        MaxRounds => "Maximum rounds reached",
        BudgetHalt => "Halted by the budget or a limit",
        Stopped => "Stopped by a member",
        ProviderFailure => "The model provider failed",
        null => "Still running",
        _ => reason,
    };
}
