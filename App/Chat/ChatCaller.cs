using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Limits;

namespace AgentSpace.Chat;

/// <summary>
/// Who runs a turn: a signed-in person (their role is checked on every unit of work and the audit names
/// them) or an operator's admin command (the system actor, recorded as "admin command").
/// </summary>
public sealed record ChatCaller
{
    /// <summary>What the audit log gives as the system actor's reason for an admin command's work.</summary>
    public const string AdminReason = "admin command";

    private ChatCaller(Actor? person, string source)
    {
        Person = person;
        Source = source;
    }

    /// <summary>Null for the admin command.</summary>
    public Actor? Person { get; }

    /// <summary>The usage ledger's source: <see cref="UsageSources"/>.</summary>
    public string Source { get; }

    /// <summary>The owner of the conversations this caller creates and may open (the empty id for the admin command).</summary>
    public Guid UserId => Person?.UserId ?? Guid.Empty;

    public static ChatCaller For(Actor person)
    {
        ArgumentNullException.ThrowIfNull(person);
        return new ChatCaller(person, UsageSources.Chat);
    }

    /// <summary>A workflow's agent step, run as the workflow's owner (their role, limits and budgets apply); the usage ledger says "workflow".</summary>
    public static ChatCaller ForWorkflow(Actor owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        return new ChatCaller(owner, UsageSources.Workflow);
    }

    public static ChatCaller AdminCommand { get; } = new(null, UsageSources.Admin);
}

/// <summary>An agent, conversation or turn that does not exist in this organization or is not the caller's: all look the same.</summary>
public sealed class ChatNotFoundException(string what) : UserFacingException($"{what} not found.", 404);

/// <summary>A request the chat rules refuse (empty message, too long, a run already going). The message is safe to show.</summary>
public sealed class ChatRuleException(string message) : UserFacingException(message, 400);
