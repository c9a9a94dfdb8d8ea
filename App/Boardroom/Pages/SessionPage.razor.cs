using AgentSpace.Boardroom.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Boardroom.Pages;

/// <summary>
/// One session: its brief, its turns by round, and, while it runs on this node, the turn being spoken, live. The live
/// text renders at most every <see cref="RenderEveryMs"/> ms; when a turn ends, and when the run ends, the page reads
/// the session again, so what it shows is what was stored.
/// </summary>
public sealed partial class SessionPage
{
    /// <summary>A fast stream renders at most this often, so it does not flood the circuit.</summary>
    private const int RenderEveryMs = 75;

    private readonly NoteForm _note = new();
    private SessionView? _view;
    private bool _missing;
    private bool _stopping;
    private string? _noteError;
    private Guid? _loadedFor;
    private LiveSession? _live;
    private Guid? _lastTurn;
    private long _lastRender;
    private bool _renderQueued;
    private bool _refreshing;
    private bool _refreshAgain;

    [Parameter]
    public Guid SessionId { get; set; }

    [Inject]
    private BoardroomService Boardroom { get; set; } = default!;

    [Inject]
    private LiveBoardrooms Live { get; set; } = default!;

    private bool CanAct => Org?.Can(OrgRole.Member) == true;

    /// <summary>The turn being spoken now, when the session runs here.</summary>
    private LiveSpeech? Speaking => _view?.Status == ShownStatus.Running ? _live?.Speaking : null;

    private double SpentPercent => _view is null ? 0
        : _view.Session.BudgetUsd > 0 ? (double)Math.Min(100m, 100m * _view.SpentUsd / _view.Session.BudgetUsd)
        : _view.SpentUsd > 0 ? 100 : 0;

    private List<BreadcrumbItem> Breadcrumbs =>
    [
        new("Boardroom", OrgPath("boardroom")),
        new(_view is null ? "Session" : BoardroomFormat.Cut(_view.Session.Question, 60), href: null, disabled: true),
    ];

    /// <summary>The stored turns by round, without the one shown live.</summary>
    private IEnumerable<IGrouping<int, BoardroomTurn>> RoundsOf(LiveSpeech? speaking) =>
        (_view?.Turns ?? []).Where(t => t.Id != speaking?.TurnId).GroupBy(t => t.Round).OrderBy(g => g.Key);

    protected override async Task OnParametersSetAsync()
    {
        await base.OnParametersSetAsync();
        // The same page object serves another session (a link from one session to another).
        if (_loadedFor is not null && _loadedFor != SessionId)
        {
            Unwatch();
            await ReloadAsync();
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loadedFor = SessionId;
        _missing = false;
        _stopping = false;
        try
        {
            // Watched before it is read, so a turn that ends while the page loads still brings a reload.
            Watch(Live.Find(SessionId));
            _view = await Boardroom.OpenAsync(actor, Slug, SessionId, ct);
            return _view.Org;
        }
        catch (BoardroomNotFoundException)
        {
            Unwatch();
            _missing = true;
            _view = null;
            return await Organizations.GetAsync(actor, Slug, ct);
        }
    }

    private void Watch(LiveSession? live)
    {
        if (ReferenceEquals(live, _live))
        {
            return;
        }
        Unwatch();
        if (live is null)
        {
            return;
        }
        _live = live;
        _lastTurn = live.Speaking?.TurnId;
        live.Changed += OnLiveChanged;
        _ = WatchEndAsync(live);
    }

    private void Unwatch()
    {
        if (_live is { } live)
        {
            live.Changed -= OnLiveChanged;
            _live = null;
        }
    }

    private async Task WatchEndAsync(LiveSession live)
    {
        await live.Ended;
        if (ReferenceEquals(live, _live))
        {
            // The refresh stops watching it: an ended run is no longer found.
            await InvokeAsync(RefreshAsync);
        }
    }

    /// <summary>Raised by the session's run: a turn started, grew or ended.</summary>
    private void OnLiveChanged()
    {
        var turn = _live?.Speaking?.TurnId;
        if (turn != _lastTurn)
        {
            var ended = _lastTurn is not null;
            _lastTurn = turn;
            if (ended)
            {
                _ = InvokeAsync(RefreshAsync);
                return;
            }
        }
        if (_renderQueued)
        {
            return;
        }
        _renderQueued = true;
        _ = RenderSoonAsync(RenderEveryMs - (Environment.TickCount64 - _lastRender));
    }

    private async Task RenderSoonAsync(long wait)
    {
        if (wait > 0)
        {
            await Task.Delay((int)wait);
        }
        _renderQueued = false;
        _lastRender = Environment.TickCount64;
        await InvokeAsync(StateHasChanged);
    }

    /// <summary>Reads the session again without the page's loading state; reloads asked for meanwhile run once after.</summary>
    private async Task RefreshAsync()
    {
        if (_refreshing)
        {
            _refreshAgain = true;
            return;
        }
        _refreshing = true;
        try
        {
            do
            {
                _refreshAgain = false;
                if (PageToken.IsCancellationRequested || NotFound || _view is null)
                {
                    return;
                }
                try
                {
                    var actor = await Actors.GetAsync();
                    Watch(Live.Find(SessionId));
                    _view = await Boardroom.OpenAsync(actor, Slug, SessionId, PageToken);
                    Observe(_view.Org);
                    if (!_view.CanStop)
                    {
                        _stopping = false;
                    }
                }
                catch (BoardroomNotFoundException)
                {
                    _missing = true;
                    return;
                }
                catch (OrgNotFoundException)
                {
                    await ReloadAsync();
                    return;
                }
                catch (UserFacingException ex)
                {
                    Snackbar.Add(ex.Message, Severity.Error);
                    return;
                }
                catch (OperationCanceledException) when (PageToken.IsCancellationRequested)
                {
                    return;
                }
            }
            while (_refreshAgain);
        }
        finally
        {
            _refreshing = false;
            StateHasChanged();
        }
    }

    /// <summary>No confirmation: Stop must act at once. The run ends within a second and the page reloads when it has.</summary>
    private async Task StopAsync()
    {
        if (await TryAsync((actor, ct) => Boardroom.StopAsync(actor, Slug, SessionId, ct)))
        {
            _stopping = true;
            return;
        }
        await RefreshAsync();
    }

    private Task ResumeAsync() => BusyAsync(async () =>
    {
        await TryAsync((actor, ct) => Boardroom.ResumeAsync(actor, Slug, SessionId, ct), "Session resumed.");
        await RefreshAsync();
    });

    private async Task AddNoteAsync()
    {
        var text = _note.Text;
        if (string.IsNullOrWhiteSpace(text))
        {
            _noteError = "Write the note first.";
            return;
        }
        _noteError = null;
        var added = false;
        await BusyAsync(async () => added = await TryAsync((actor, ct) => Boardroom.AddNoteAsync(actor, Slug, SessionId, text, ct),
            "Note added: the next round reads it.", error => _noteError = error));
        if (added)
        {
            _note.Text = "";
            await RefreshAsync();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Unwatch();
        }
        base.Dispose(disposing);
    }

    private sealed class NoteForm
    {
        public string? Text { get; set; }
    }
}
