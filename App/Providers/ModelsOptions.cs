namespace AgentSpace.Providers;

/// <summary>How calls to model providers wait and retry (section <c>Models</c>).</summary>
public sealed class ModelsOptions
{
    public const string Section = "Models";

    /// <summary>
    /// One attempt, until the provider starts answering (response headers); a stream that has started is not cut
    /// by it, however long the answer takes.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// Every attempt and every wait between them, until the provider starts answering. Also the longest silence
    /// allowed between two pieces of a streamed OpenAI-compatible answer.
    /// </summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(4);

    /// <summary>Retries after the first attempt, on 408, 429, 5xx and network errors.</summary>
    public int Retries { get; set; } = 3;

    /// <summary>The first backoff delay; it doubles (with jitter) for each further retry.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest <c>Retry-After</c> honoured. A provider that asks for a longer wait gets no retry: the caller
    /// sees its message at once rather than a request held open for minutes.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Plain http to a provider that is not on this machine (a model server on the local network). Unset: allowed
    /// in Development only. The API key travels in every request, so production should use https.
    /// </summary>
    public bool? AllowPlainHttp { get; set; }
}
