using System.Collections.Concurrent;

namespace AgentSpace.Workflows;

/// <summary>
/// The runs this node is running, so Cancel reaches a step in flight at once. Another node's run sees the request
/// in the database before its next step (the run's row carries it).
/// </summary>
public sealed class WorkflowLiveRuns
{
    private readonly ConcurrentDictionary<Guid, WorkflowLiveRun> _runs = new();

    internal WorkflowLiveRun Start(Guid runId, CancellationToken node)
    {
        var run = new WorkflowLiveRun(this, runId, node);
        _runs[runId] = run;
        return run;
    }

    /// <summary>True when the run was running here and is now being cancelled.</summary>
    public bool Cancel(Guid runId)
    {
        if (!_runs.TryGetValue(runId, out var run))
        {
            return false;
        }
        run.Cancel();
        return true;
    }

    public bool IsLive(Guid runId) => _runs.ContainsKey(runId);

    internal void End(WorkflowLiveRun run) => _runs.TryRemove(new KeyValuePair<Guid, WorkflowLiveRun>(run.RunId, run));
}

internal sealed class WorkflowLiveRun : IDisposable
{
    private readonly WorkflowLiveRuns _owner;
    private readonly CancellationTokenSource _cts;

    public WorkflowLiveRun(WorkflowLiveRuns owner, Guid runId, CancellationToken node)
    {
        _owner = owner;
        RunId = runId;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(node);
    }

    public Guid RunId { get; }

    public CancellationToken Token => _cts.Token;

    public bool CancelRequested { get; private set; }

    public void Cancel()
    {
        CancelRequested = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _owner.End(this);
        _cts.Dispose();
    }
}
