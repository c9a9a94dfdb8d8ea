using System.Collections.Concurrent;

namespace AgentSpace.Boardroom;

/// <summary>The words of the turn being taken, as far as the output filter lets them be shown.</summary>
public sealed record LiveSpeech(Guid TurnId, string Speaker, string Kind, int Round, string Text);

/// <summary>
/// The sessions running in this process. A session stored as running whose id is not here lost its runner (the
/// process restarted) and is shown as interrupted, ready to resume. Per node, like chat's live runs: Stop and the
/// live view need the node that runs the session (sticky sessions).
/// </summary>
public sealed class LiveBoardrooms
{
    private readonly ConcurrentDictionary<Guid, LiveSession> _sessions = new();

    public LiveSession? Find(Guid sessionId) => _sessions.GetValueOrDefault(sessionId);

    /// <summary>Null when the session already runs here.</summary>
    internal LiveSession? TryStart(Guid sessionId, CancellationToken shutdown)
    {
        var live = new LiveSession(sessionId, shutdown);
        if (_sessions.TryAdd(sessionId, live))
        {
            return live;
        }
        live.Dispose();
        return null;
    }

    internal void End(LiveSession live)
    {
        _sessions.TryRemove(new KeyValuePair<Guid, LiveSession>(live.SessionId, live));
        live.Finish();
    }
}

/// <summary>One running session: its cancellation, what is being said now, and a signal for watchers.</summary>
public sealed class LiveSession : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal LiveSession(Guid sessionId, CancellationToken shutdown)
    {
        SessionId = sessionId;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
    }

    public Guid SessionId { get; }

    public LiveSpeech? Speaking { get; private set; }

    public bool StopRequested { get; private set; }

    /// <summary>Completes when the session's run ends here, however it ended.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Raised after a turn started, grew, or ended; watchers render at their own pace.</summary>
    public event Action? Changed;

    internal CancellationToken Token => _cts.Token;

    /// <summary>Stop pressed: the call in progress is cancelled; what was said is kept.</summary>
    public void Stop()
    {
        StopRequested = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The session ended a moment ago.
        }
    }

    internal void Speak(LiveSpeech? speech)
    {
        Speaking = speech;
        Raise();
    }

    internal void Raise() => Changed?.Invoke();

    internal void Finish()
    {
        Speaking = null;
        Raise();
        _ended.TrySetResult();
        Dispose();
    }

    public void Dispose() => _cts.Dispose();
}
