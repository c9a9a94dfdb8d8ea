using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Workflows.Pages;

/// <summary>
/// The organization's runs, or one workflow's. Runs start elsewhere (the scheduler, a webhook, another member), so
/// while the page is open it reads the list again every <see cref="RefreshEvery"/>.
/// </summary>
public sealed partial class RunsIndex
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(2);

    private RunList? _list;
    private bool _missing;
    private bool _watching;
    private bool _loaded;
    private Guid? _loadedFor;

    [Parameter]
    public Guid? WorkflowId { get; set; }

    [Inject]
    private WorkflowService Workflows { get; set; } = default!;

    private bool CanRun => Org?.Can(OrgRole.Member) == true;

    private List<BreadcrumbItem> Breadcrumbs => _list?.WorkflowId is { } id
        ?
        [
            new("Workflows", OrgPath("workflows")),
            new(_list.WorkflowName ?? "Workflow", OrgPath($"workflows/{id}")),
            new("Runs", href: null, disabled: true),
        ]
        :
        [
            new("Workflows", OrgPath("workflows")),
            new("All runs", href: null, disabled: true),
        ];

    protected override async Task OnParametersSetAsync()
    {
        await base.OnParametersSetAsync();
        if (_loaded && _loadedFor != WorkflowId)
        {
            await ReloadAsync();
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loaded = true;
        _loadedFor = WorkflowId;
        _missing = false;
        try
        {
            _list = await Workflows.RunListAsync(actor, Slug, WorkflowId, ct);
            return _list.Org;
        }
        catch (WorkflowNotFoundException)
        {
            _missing = true;
            _list = null;
            return await Organizations.GetAsync(actor, Slug, ct);
        }
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (!_watching && _list is not null && !_missing)
        {
            _watching = true;
            _ = InvokeAsync(WatchAsync);
        }
    }

    private async Task WatchAsync()
    {
        try
        {
            while (!PageToken.IsCancellationRequested && _list is not null && !_missing && !NotFound)
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
            _list = await Workflows.RunListAsync(actor, Slug, WorkflowId, PageToken);
            Observe(_list.Org);
        }
        catch (WorkflowNotFoundException)
        {
            _missing = true;
        }
        catch (OrgNotFoundException)
        {
            await ReloadAsync();
        }
        catch (UserFacingException ex)
        {
            // Refused now (a role taken away): say so once and stop following.
            PageError = ex.Message;
            _list = null;
        }
    }

    private async Task RunNowAsync()
    {
        Guid? run = null;
        await BusyAsync(() => TryAsync(async (actor, ct) => run = await Workflows.RunNowAsync(actor, Slug, WorkflowId!.Value, ct)));
        if (run is { } id)
        {
            Navigation.NavigateTo(OrgPath($"workflows/runs/{id}"));
        }
    }
}
