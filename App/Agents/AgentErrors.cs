using AgentSpace.Hosting;

namespace AgentSpace.Agents;

/// <summary>
/// A missing agent and another organization's agent look the same (each organization's agents live in its
/// own schema, so another's id is simply not there).
/// </summary>
public sealed class AgentNotFoundException() : UserFacingException("Agent not found.", 404);

public sealed class AgentMemoryNotFoundException() : UserFacingException("That memory no longer exists.", 404);

/// <summary>
/// What is wrong with an agent's fields, keyed by the <see cref="AgentInput"/> property name, so a form
/// shows each message next to its field.
/// </summary>
public sealed class AgentValidationException(IReadOnlyDictionary<string, string> errors)
    : UserFacingException(Summarize(errors), 400)
{
    public IReadOnlyDictionary<string, string> Errors { get; } = errors;

    private static string Summarize(IReadOnlyDictionary<string, string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 1 ? errors.Values.First() : "Check the highlighted fields: " + string.Join(" ", errors.Values);
    }
}
