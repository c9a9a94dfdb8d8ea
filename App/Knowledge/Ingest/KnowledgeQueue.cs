using System.Threading.Channels;

namespace AgentSpace.Knowledge;

/// <summary>
/// In-process wake-ups for the ingest worker: "this organization has work". The work itself is in each tenant's
/// <c>knowledge_jobs</c> table; a lost signal only delays it until the worker's next scan.
/// </summary>
public sealed class KnowledgeQueue
{
    private readonly Channel<Guid> _signals = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });

    public void Signal(Guid organizationId) => _signals.Writer.TryWrite(organizationId);

    /// <summary>The next organization signalled, or null when <paramref name="wait"/> passes first.</summary>
    public async Task<Guid?> NextAsync(TimeSpan wait, CancellationToken ct)
    {
        if (_signals.Reader.TryRead(out var ready))
        {
            return ready;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try
        {
            return await _signals.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }
}
