namespace AgentSpace.Chat;

/// <summary>Bounds on one streamed answer (section <c>Chat</c>): a provider that ignores its token allowance or never ends cannot hold a turn.</summary>
public sealed class ChatAnswerOptions
{
    public const string Section = "Chat";

    /// <summary>Characters kept of one answer (all its model calls together); the stream is cancelled beyond it.</summary>
    public int MaxAnswerChars { get; set; } = 32_000;

    /// <summary>The longest one answer may take, from connecting to the provider to its last piece (tool calls included).</summary>
    public TimeSpan MaxAnswerDuration { get; set; } = TimeSpan.FromMinutes(5);
}
