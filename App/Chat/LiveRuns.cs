using System.Collections.Concurrent;

namespace AgentSpace.Chat;

/// <summary>
/// The runs streaming in this process. A turn stored as <see cref="TurnStatus.Streaming"/> whose run is not
/// here lost its runner (the process restarted, or its circuit went away before the final write) and is
/// shown as <see cref="TurnStatus.Interrupted"/>. Per node: with several nodes behind sticky sessions a
/// turn is only judged by the node that reads it, which is the node that ran it.
/// </summary>
public sealed class LiveRuns
{
    private readonly ConcurrentDictionary<Guid, LiveRun> _runs = new();

    public bool IsLive(Guid runId) => _runs.ContainsKey(runId);

    internal LiveRun Start(Guid runId, Guid ownerId, CancellationToken caller)
    {
        var run = new LiveRun(runId, ownerId, caller);
        _runs[runId] = run;
        return run;
    }

    internal void End(LiveRun run)
    {
        _runs.TryRemove(new KeyValuePair<Guid, LiveRun>(run.RunId, run));
        run.Dispose();
    }

    /// <summary>Stop pressed: cancels the provider call; what was written is kept. Only the person who started the run can stop it.</summary>
    public bool Stop(Guid runId, Guid userId)
    {
        if (!_runs.TryGetValue(runId, out var run) || run.OwnerId != userId)
        {
            return false;
        }
        run.Stop();
        return true;
    }
}

/// <summary>One running turn: its cancellation, and whether it ends because Stop was pressed or because its caller went away.</summary>
internal sealed class LiveRun : IDisposable
{
    private readonly CancellationTokenSource _cts;

    public LiveRun(Guid runId, Guid ownerId, CancellationToken caller)
    {
        RunId = runId;
        OwnerId = ownerId;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(caller);
    }

    public Guid RunId { get; }
    public Guid OwnerId { get; }
    public CancellationToken Token => _cts.Token;
    public bool StopRequested { get; private set; }

    public void Stop()
    {
        StopRequested = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended a moment ago.
        }
    }

    public void Dispose() => _cts.Dispose();
}
