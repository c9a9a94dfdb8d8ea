namespace AgentSpace.Hosting;

/// <summary>Too many requests of one kind in a window; the message says which limit and when to try again.</summary>
public sealed class RateLimitedException(string message, TimeSpan? retryAfter = null) : UserFacingException(message, 429)
{
    /// <summary>When the limit allows the next request, if known (for a <c>Retry-After</c> header).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
