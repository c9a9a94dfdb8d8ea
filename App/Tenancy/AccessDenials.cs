using System.Globalization;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using Microsoft.Extensions.Options;

namespace AgentSpace.Tenancy;

/// <summary>
/// Records access denials in the organization that was asked about, without letting an outsider flood its
/// log: per (organization, actor, what was asked) the first denial in a window is written at once with
/// <c>count</c> 1; later ones in the same window are only counted, and written as one more row with their
/// <c>count</c> when the window has closed (by <see cref="AccessDenialFlusher"/>, or at the next denial after
/// it). So every probe is on record within one window, and the sum of <c>count</c> is the number of probes.
/// </summary>
/// <remarks>
/// The counts live in this process (one set per app instance; N instances write up to N rows per window).
/// A graceful shutdown writes every pending count; a crash loses at most the counts of open windows, never
/// a first row. The number of open windows is capped: past the cap a denial is written uncoalesced rather
/// than forgotten.
/// </remarks>
public sealed class AccessDenials(AuditLog audit, TimeProvider clock, IOptions<TenancyOptions> options, ILogger<AccessDenials> logger)
{
    internal const int MaxOpenWindows = 100_000;

    private readonly Lock _gate = new();
    private readonly Dictionary<Key, Window> _open = [];

    internal TimeSpan WindowLength => options.Value.DenialWindow;

    /// <summary>Records that <paramref name="actor"/> was refused <paramref name="what"/> in <paramref name="tenant"/>.</summary>
    /// <remarks>Not cancellable: a prober who drops the request must still be on record.</remarks>
    public async Task RecordAsync(TenantSchemaName tenant, Actor actor, string what, IReadOnlyDictionary<string, string?> details)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        ArgumentNullException.ThrowIfNull(actor);
        var now = clock.GetUtcNow();
        var key = new Key(tenant, actor.UserId, what);
        Window? closed = null;
        Window? opened = null;
        lock (_gate)
        {
            if (_open.TryGetValue(key, out var open) && now < open.Start + WindowLength)
            {
                open.Repeat(actor, now);
                return;
            }
            closed = open;
            if (open is not null || _open.Count < MaxOpenWindows)
            {
                opened = new Window(now, actor, details);
                _open[key] = opened;
            }
        }
        if (closed is not null)
        {
            await WriteRepeatsAsync(key, closed, CancellationToken.None);
        }
        if (opened is null)
        {
            logger.LogWarning("Too many open access-denial windows; writing a denial uncoalesced");
        }
        try
        {
            await audit.AppendAsync(tenant, AuditEntry.By(actor, TenancyAuditActions.AccessDenied, what, With(details, ("count", "1")), AuditOutcome.Denied),
                CancellationToken.None);
        }
        catch
        {
            // Not on record: let the next denial be a first one again.
            lock (_gate)
            {
                if (opened is not null && _open.TryGetValue(key, out var current) && ReferenceEquals(current, opened))
                {
                    _open.Remove(key);
                }
            }
            throw;
        }
    }

    /// <summary>Writes the counts of closed windows (or of all windows, at shutdown) and forgets them.</summary>
    public async Task FlushAsync(bool everything, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = new List<(Key Key, Window Window)>();
        lock (_gate)
        {
            foreach (var (key, window) in _open)
            {
                if (everything || now >= window.Start + WindowLength)
                {
                    due.Add((key, window));
                }
            }
            foreach (var (key, _) in due)
            {
                _open.Remove(key);
            }
        }
        foreach (var (key, window) in due)
        {
            await WriteRepeatsAsync(key, window, ct);
        }
    }

    private async Task WriteRepeatsAsync(Key key, Window window, CancellationToken ct)
    {
        // Out of the table, so no other thread changes it any more.
        if (window.Repeats == 0)
        {
            return;
        }
        var details = With(window.Details,
            ("count", window.Repeats.ToString(CultureInfo.InvariantCulture)),
            ("window_start", window.Start.ToString("O", CultureInfo.InvariantCulture)),
            ("last_at", window.LastAt.ToString("O", CultureInfo.InvariantCulture)));
        try
        {
            await audit.AppendAsync(key.Tenant, AuditEntry.By(window.LastActor, TenancyAuditActions.AccessDenied, key.What, details, AuditOutcome.Denied), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The organization may have been deleted meanwhile; its first row was written when the window opened.
            logger.LogWarning(ex, "Could not write {Count} coalesced access denials for {Tenant}", window.Repeats, key.Tenant.Value);
        }
    }

    private static Dictionary<string, string?> With(IReadOnlyDictionary<string, string?> details, params (string Key, string Value)[] extra)
    {
        var all = new Dictionary<string, string?>(details);
        foreach (var (k, v) in extra)
        {
            all[k] = v;
        }
        return all;
    }

    private readonly record struct Key(TenantSchemaName Tenant, Guid ActorId, string What);

    private sealed class Window(DateTimeOffset start, Actor actor, IReadOnlyDictionary<string, string?> details)
    {
        public DateTimeOffset Start { get; } = start;
        public IReadOnlyDictionary<string, string?> Details { get; } = details;
        public Actor LastActor { get; private set; } = actor;
        public DateTimeOffset LastAt { get; private set; } = start;
        public int Repeats { get; private set; }

        public void Repeat(Actor actor, DateTimeOffset at)
        {
            Repeats++;
            LastActor = actor;
            LastAt = at;
        }
    }
}

/// <summary>Writes the counts of closed denial windows every minute (or every window, if shorter), and all of them at shutdown.</summary>
internal sealed class AccessDenialFlusher(AccessDenials denials, TimeProvider clock) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(denials.WindowLength.Ticks, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        using var timer = new PeriodicTimer(period, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await denials.FlushAsync(everything: false, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await denials.FlushAsync(everything: true, cancellationToken);
    }
}
