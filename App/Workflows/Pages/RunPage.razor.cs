using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Workflows.Components;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Workflows.Pages;

/// <summary>
/// One run: its summary and each step's status, output (as plain text), error, duration, tokens and cost. A run goes
/// on in the scheduler, on whichever node took it, with nothing pushed to this page, so while it has not ended the
/// page reads it again every <see cref="RefreshEvery"/>. Members cancel a run that has not ended (after confirming)
/// and re-run one that has; Viewers read.
/// </summary>
public sealed partial class RunPage
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(1);

    private RunDetail? _detail;
    private bool _missing;
    private bool _watching;
    private Guid? _loadedFor;

    [Parameter]
    public Guid RunId { get; set; }

    [Inject]
    private WorkflowService Workflows { get; set; } = default!;

    private bool CanAct => Org?.Can(OrgRole.Member) == true;

    private List<BreadcrumbItem> Breadcrumbs =>
    [
        new("Workflows", OrgPath("workflows")),
        new(_detail?.Run.WorkflowName ?? "Workflow", _detail is null ? null : OrgPath($"workflows/{_detail.Run.WorkflowId}")),
        new("Runs", _detail is null ? OrgPath("workflows/runs") : OrgPath($"workflows/{_detail.Run.WorkflowId}/runs")),
        new(_detail is null ? "Run" : WorkflowFormat.Time(_detail.Run.CreatedAt), href: null, disabled: true),
    ];

    protected override async Task OnParametersSetAsync()
    {
        await base.OnParametersSetAsync();
        // The same page object serves another run (Re-run opens the new one).
        if (_loadedFor is not null && _loadedFor != RunId)
        {
            await ReloadAsync();
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loadedFor = RunId;
        _missing = false;
        try
        {
            _detail = await Workflows.RunAsync(actor, Slug, RunId, ct);
            return _detail.Org;
        }
        catch (WorkflowNotFoundException)
        {
            _missing = true;
            _detail = null;
            return await Organizations.GetAsync(actor, Slug, ct);
        }
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (!_watching && _detail is not null && !RunStatus.IsFinal(_detail.Run.Status))
        {
            _watching = true;
            _ = InvokeAsync(WatchAsync);
        }
    }

    private async Task WatchAsync()
    {
        try
        {
            while (!PageToken.IsCancellationRequested && _detail is not null && !RunStatus.IsFinal(_detail.Run.Status))
            {
                await Task.Delay(RefreshEvery, PageToken);
                await RefreshAsync();
                StateHasChanged();
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _watching = false;
        }
    }

    private async Task RefreshAsync()
    {
        try
        {
            var actor = await Actors.GetAsync();
            _detail = await Workflows.RunAsync(actor, Slug, RunId, PageToken);
            Observe(_detail.Org);
        }
        catch (WorkflowNotFoundException)
        {
            _missing = true;
            _detail = null;
        }
        catch (OrgNotFoundException)
        {
            await ReloadAsync();
        }
        catch (UserFacingException ex)
        {
            PageError = ex.Message;
            _detail = null;
        }
    }

    private async Task CancelAsync()
    {
        if (!await Dialogs.ConfirmAsync("Cancel this run?",
                "The step that is running is stopped and the steps after it are skipped. Effects already sent (emails, HTTP requests) are not undone.", "Cancel run"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => Workflows.CancelAsync(actor, Slug, RunId, ct), "Cancel requested."));
        await RefreshAsync();
    }

    private async Task RerunAsync()
    {
        Guid? run = null;
        await BusyAsync(() => TryAsync(async (actor, ct) => run = await Workflows.RerunAsync(actor, Slug, RunId, ct)));
        if (run is { } id)
        {
            Navigation.NavigateTo(OrgPath($"workflows/runs/{id}"));
        }
    }
}
