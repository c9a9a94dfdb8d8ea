using AgentSpace.Identity;

namespace AgentSpace.Audit;

/// <summary>What a caller records; the chain adds sequence, time and hashes.</summary>
public sealed record AuditEntry(
    string Action,
    string Outcome,
    Guid? ActorId = null,
    string? ActorEmail = null,
    string? Target = null,
    string? Ip = null,
    IReadOnlyDictionary<string, string?>? Details = null)
{
    /// <summary>How background work (no member behind it) appears in the actor column.</summary>
    public const string SystemActor = "system";

    /// <summary>An entry for something a signed-in person did: their id, email and address are recorded.</summary>
    public static AuditEntry By(Actor actor, string action, string? target = null, IReadOnlyDictionary<string, string?>? details = null,
        string outcome = AuditOutcome.Success)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return new AuditEntry(action, outcome, actor.UserId, actor.Email, target, actor.Ip, details);
    }

    /// <summary>How an operator's admin command appears in the actor column.</summary>
    public const string OperatorActor = "operator";

    /// <summary>An entry for an operator's admin command (run on the server, no signed-in person behind it).</summary>
    public static AuditEntry ByOperator(string action, string? target = null, IReadOnlyDictionary<string, string?>? details = null) =>
        new(action, AuditOutcome.Success, ActorEmail: OperatorActor, Target: target, Details: details);

    /// <summary>
    /// An entry for background work: the system actor, with <paramref name="reason"/> kept in the details as
    /// <c>reason</c>, or as <c>system_reason</c> when the details give a reason of their own (which is kept).
    /// </summary>
    public static AuditEntry BySystem(string reason, string action, string? target = null, IReadOnlyDictionary<string, string?>? details = null,
        string outcome = AuditOutcome.Success)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var withReason = details is null ? new Dictionary<string, string?>() : new Dictionary<string, string?>(details);
        if (!withReason.TryAdd("reason", reason))
        {
            withReason["system_reason"] = reason;
        }
        return new AuditEntry(action, outcome, ActorEmail: SystemActor, Target: target, Details: withReason);
    }
}

public static class AuditOutcome
{
    public const string Success = "success";
    public const string Failure = "failure";
    public const string Denied = "denied";
}
