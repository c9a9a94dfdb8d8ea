namespace AgentSpace.Hosting;

/// <summary>
/// A refusal whose message is written for the person who asked: pages show <see cref="Exception.Message"/>
/// as it is, and HTTP endpoints answer with <see cref="StatusCode"/>. Anything else that escapes is a fault
/// and is shown as a generic error, never with its message or stack trace.
/// </summary>
public abstract class UserFacingException(string message, int statusCode) : Exception(message)
{
    /// <summary>The HTTP status an endpoint answers with: 400, 403, 404, 409, 429...</summary>
    public int StatusCode { get; } = statusCode;
}
