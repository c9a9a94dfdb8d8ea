namespace AgentSpace.Chat;

/// <summary>A tool step as the chat shows it (collapsible).</summary>
public sealed record ToolStep(string Tool, string Arguments, string? Reason, string Outcome, string? ResultPreview, int ResultChars, int DurationMs);

/// <summary>
/// What a caller watching a turn sees while it streams: the text so far (only what passed the output
/// filter), notices, tool steps and the status. <see cref="Changed"/> fires after each change on the
/// engine's flow; a page renders from it at its own pace.
/// </summary>
public sealed class LiveTurn
{
    private readonly List<string> _notices = [];
    private readonly List<ToolStep> _steps = [];

    public Guid ConversationId { get; internal set; }
    public Guid UserTurnId { get; internal set; }
    public Guid AssistantTurnId { get; internal set; }
    public Guid RunId { get; internal set; }
    public string? Label { get; internal set; }
    /// <summary>The answer as far as it may be shown.</summary>
    public string Text { get; internal set; } = "";
    public string Status { get; internal set; } = TurnStatus.Streaming;
    public string? Error { get; internal set; }
    public IReadOnlyList<string> Notices => _notices;
    public IReadOnlyList<ToolStep> Steps => _steps;

    /// <summary>Raised after the turn changed (started, text grew, a notice, a tool step, the end).</summary>
    public event Action? Changed;

    internal void AddNotice(string notice)
    {
        if (!_notices.Contains(notice))
        {
            _notices.Add(notice);
            Raise();
        }
    }

    internal void AddStep(ToolStep step)
    {
        _steps.Add(step);
        Raise();
    }

    internal void Raise() => Changed?.Invoke();
}
