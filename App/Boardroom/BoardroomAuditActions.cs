namespace AgentSpace.Boardroom;

/// <summary>Boardroom actions in the organization's audit chain.</summary>
public static class BoardroomAuditActions
{
    /// <summary>A session was convened: brief, members, chair, rules and budget.</summary>
    public const string SessionStarted = "boardroom.session_started";
    /// <summary>A failed or interrupted session was resumed from its last completed turn.</summary>
    public const string SessionResumed = "boardroom.session_resumed";
    /// <summary>A participant's model call ended: kind, round, status, tokens and cost.</summary>
    public const string TurnTaken = "boardroom.turn_taken";
    public const string NoteAdded = "boardroom.note_added";
    /// <summary>The session stopped early: the budget or a limit, Stop, or a provider failure.</summary>
    public const string Halted = "boardroom.halted";
    /// <summary>A decision record was finalized; its hash is in the details.</summary>
    public const string Finalized = "decision.finalized";
    /// <summary>A new record superseded an earlier one; both hashes are in the details.</summary>
    public const string Superseded = "decision.superseded";
    public const string Exported = "decision.exported";
}
