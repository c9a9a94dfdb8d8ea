using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Workflows.Components;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;

namespace AgentSpace.Workflows.Pages;

/// <summary>
/// A workflow's steps and schedule (editable by Members, read-only for Viewers), its Run now and Delete, and for
/// Admins its webhook and the organization's HTTP allow-list. Also the form for a new workflow. A refused save keeps
/// everything typed and shows each of the service's reasons beside the step and field it is about; the schedule's
/// next fire times come from the scheduler's own cron reader as they are typed.
/// </summary>
public sealed partial class WorkflowEditor
{
    private WorkflowForm? _form;
    private WorkflowDetail? _detail;
    private WorkflowHome? _home;
    /// <summary>The version the form was filled from: a save from it after someone else's is refused, whatever was refreshed since.</summary>
    private int _formVersion;
    private readonly FormProblems _problems = new();
    private SchedulePreview _preview = SchedulePreview.None;
    private string? _formError;
    private bool _conflict;
    private bool _missing;
    private bool _saving;
    private bool _loaded;
    private Guid? _loadedFor;
    private WebhookSecret? _secret;
    private readonly HostForm _newHost = new();
    private string? _hostError;

    [Parameter]
    public Guid? WorkflowId { get; set; }

    [Inject]
    private WorkflowService Workflows { get; set; } = default!;

    [Inject]
    private PublicUrl PublicUrl { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    private bool IsNew => WorkflowId is null;

    private bool CanEdit => Org?.Can(OrgRole.Member) == true;

    private bool CanAdmin => Org?.Can(OrgRole.Admin) == true;

    private IReadOnlyList<WorkflowAgentOption> Agents => _detail?.Agents ?? _home?.Agents ?? [];

    private IReadOnlyList<WorkflowHttpHost> Hosts => _detail?.Hosts ?? _home?.Hosts ?? [];

    private bool WebhookOn => _detail?.Workflow.WebhookSecretCiphertext is not null && _detail.Workflow.WebhookPath is not null;

    private string WebhookUrl => _detail?.Workflow.WebhookPath is { } path ? WorkflowService.WebhookUrl(PublicUrl.Base, Org?.Slug ?? Slug, path) : "";

    private bool IsUtc => string.IsNullOrWhiteSpace(_form?.TimeZone) || _form.TimeZone.Trim() is "UTC" or "Etc/UTC";

    private List<BreadcrumbItem> Breadcrumbs =>
    [
        new("Workflows", OrgPath("workflows")),
        new(_detail?.Workflow.Name ?? "New workflow", href: null, disabled: true),
    ];

    protected override async Task OnParametersSetAsync()
    {
        await base.OnParametersSetAsync();
        // The same page object serves another workflow (after creating one, or a link from one to another).
        if (_loaded && _loadedFor != WorkflowId)
        {
            await ReloadAsync();
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loaded = true;
        _loadedFor = WorkflowId;
        _problems.Clear();
        _formError = null;
        _conflict = false;
        _missing = false;
        _secret = null;
        if (WorkflowId is not { } id)
        {
            _home = await Workflows.HomeAsync(actor, Slug, ct);
            _detail = null;
            if (!_home.Org.Can(OrgRole.Member))
            {
                PageError = "Viewers cannot build workflows; a Member or above can.";
            }
            _form = new WorkflowForm();
            _form.Steps.Add(new StepForm { Name = "step_1" });
            UpdatePreview();
            return _home.Org;
        }
        try
        {
            Show(await Workflows.GetAsync(actor, Slug, id, ct));
            return _detail!.Org;
        }
        catch (WorkflowNotFoundException)
        {
            _missing = true;
            _detail = null;
            _form = null;
            return await Organizations.GetAsync(actor, Slug, ct);
        }
    }

    private void Show(WorkflowDetail detail)
    {
        _detail = detail;
        _form = WorkflowForm.From(detail.Workflow, detail.Steps);
        _formVersion = detail.Workflow.Version;
        UpdatePreview();
    }

    private IReadOnlyList<string> EarlierThan(int index) =>
        [.. _form!.Steps.Take(index).Select(s => s.Name.Trim()).Where(n => n.Length > 0)];

    private void Clear(int? step, string field)
    {
        _problems.Clear(step, field);
        _formError = _problems.Count == 0 && !_conflict ? null : _formError;
    }

    private void OnScheduleChanged()
    {
        _problems.Clear(null, "cron");
        _problems.Clear(null, "time_zone");
        UpdatePreview();
    }

    /// <summary>The next fire times as the scheduler will fire them, or why the text is not a schedule.</summary>
    private void UpdatePreview()
    {
        if (_form is null || string.IsNullOrWhiteSpace(_form.Cron))
        {
            _preview = SchedulePreview.None;
            return;
        }
        try
        {
            _preview = new SchedulePreview(Workflows.Preview(_form.Cron, _form.TimeZone), null, null);
        }
        catch (ScheduleRuleException ex)
        {
            _preview = new SchedulePreview([], ex.Message, ex.Message.Contains("time zone", StringComparison.Ordinal) ? "time_zone" : "cron");
        }
    }

    // Moving or removing steps renumbers them: the last save's reasons would point at the wrong step.
    private void AddStep()
    {
        _form!.Steps.Add(new StepForm { Name = "step_" + (_form.Steps.Count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        _problems.Clear(null, "steps");
    }

    private void Move(int index, int by)
    {
        var steps = _form!.Steps;
        var to = index + by;
        if (to < 0 || to >= steps.Count)
        {
            return;
        }
        (steps[index], steps[to]) = (steps[to], steps[index]);
        _problems.Clear();
    }

    private void Remove(int index)
    {
        _form!.Steps.RemoveAt(index);
        _problems.Clear();
    }

    private async Task SaveAsync()
    {
        if (_saving || _form is null || !CanEdit)
        {
            return;
        }
        _problems.Clear();
        _formError = null;
        _conflict = false;
        _saving = true;
        try
        {
            var input = _form.ToInput(_detail is null ? 0 : _formVersion);
            Guid? saved = null;
            await TryAsync(async (actor, ct) =>
            {
                try
                {
                    saved = await Workflows.SaveAsync(actor, Slug, WorkflowId, input, ct);
                }
                catch (WorkflowInvalidException ex)
                {
                    _problems.Set(ex.Problems);
                    throw;
                }
                catch (WorkflowRuleException)
                {
                    // The only rule a save meets once its content is valid: someone saved a newer version meanwhile.
                    _conflict = true;
                    throw;
                }
            }, onRefused: message => _formError = message);
            if (saved is not { } id)
            {
                return;
            }
            if (IsNew)
            {
                Snackbar.Add($"Created {input.Name.Trim()}.", Severity.Success);
                Navigation.NavigateTo(OrgPath($"workflows/{id}"));
                return;
            }
            Snackbar.Add("Changes saved.", Severity.Success);
            await RefreshAsync(keepForm: false);
        }
        finally
        {
            _saving = false;
        }
    }

    private async Task ReloadAfterConflictAsync()
    {
        _conflict = false;
        _formError = null;
        await RefreshAsync(keepForm: false);
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

    private async Task DeleteAsync()
    {
        var workflow = _detail!.Workflow;
        if (!await Dialogs.ConfirmAsync($"Delete {workflow.Name}?",
                "The workflow, its schedule, its webhook and every run it made are deleted for good. This cannot be undone.", "Delete workflow"))
        {
            return;
        }
        var deleted = false;
        await BusyAsync(async () => deleted = await TryAsync((actor, ct) => Workflows.DeleteAsync(actor, Slug, workflow.Id, ct), $"{workflow.Name} was deleted."));
        if (deleted)
        {
            Navigation.NavigateTo(OrgPath("workflows"));
        }
    }

    private async Task EnableWebhookAsync()
    {
        WebhookSecret? made = null;
        await BusyAsync(() => TryAsync(async (actor, ct) => made = await Workflows.EnableWebhookAsync(actor, Slug, WorkflowId!.Value, PublicUrl.Base, ct)));
        if (made is not null)
        {
            _secret = made;
            await RefreshAsync(keepForm: true);
        }
    }

    private async Task ReplaceSecretAsync()
    {
        if (!await Dialogs.ConfirmAsync("Replace the webhook secret?",
                "A new secret is made and shown once. The current secret stops working at once: calls signed with it are refused.", "Replace secret", Color.Warning))
        {
            return;
        }
        await EnableWebhookAsync();
    }

    private async Task DisableWebhookAsync()
    {
        if (!await Dialogs.ConfirmAsync("Disable the webhook?",
                "Calls to its address are refused from now on and its secret is thrown away. Enabling it again makes a new secret.", "Disable webhook"))
        {
            return;
        }
        var done = false;
        await BusyAsync(async () => done = await TryAsync((actor, ct) => Workflows.DisableWebhookAsync(actor, Slug, WorkflowId!.Value, ct), "Webhook disabled."));
        if (done)
        {
            _secret = null;
            await RefreshAsync(keepForm: true);
        }
    }

    private async Task CopyAsync(string text)
    {
        try
        {
            await JS.InvokeVoidAsync("navigator.clipboard.writeText", text);
            Snackbar.Add("Copied.", Severity.Info);
        }
        catch (JSException)
        {
            Snackbar.Add("The browser did not allow copying: select the text and press Ctrl+C.", Severity.Warning);
        }
    }

    private async Task AddHostAsync()
    {
        var host = _newHost.Host;
        if (string.IsNullOrWhiteSpace(host))
        {
            _hostError = "Write a host name, such as api.example.com.";
            return;
        }
        _hostError = null;
        var added = false;
        await BusyAsync(async () => added = await TryAsync((actor, ct) => Workflows.AllowHostAsync(actor, Slug, host, ct), $"{host.Trim()} is allowed.",
            error => _hostError = error));
        if (added)
        {
            _newHost.Host = "";
            await RefreshAsync(keepForm: true);
        }
    }

    private async Task RemoveHostAsync(string host)
    {
        await BusyAsync(() => TryAsync((actor, ct) => Workflows.RemoveHostAsync(actor, Slug, host, ct), $"{host} was removed from the allow-list."));
        await RefreshAsync(keepForm: true);
    }

    /// <summary>Reads the workflow (or, for a new one, the lists it picks from) again; with <paramref name="keepForm"/>, what is being typed stays.</summary>
    private async Task RefreshAsync(bool keepForm)
    {
        if (NotFound)
        {
            return;
        }
        try
        {
            var actor = await Actors.GetAsync();
            if (WorkflowId is not { } id)
            {
                _home = await Workflows.HomeAsync(actor, Slug, PageToken);
                Observe(_home.Org);
                return;
            }
            var detail = await Workflows.GetAsync(actor, Slug, id, PageToken);
            Observe(detail.Org);
            var typed = _form;
            var version = _formVersion;
            Show(detail);
            if (keepForm && typed is not null)
            {
                _form = typed;
                _formVersion = version;
                UpdatePreview();
            }
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
            Snackbar.Add(ex.Message, Severity.Error);
        }
        catch (OperationCanceledException) when (PageToken.IsCancellationRequested)
        {
        }
    }

    private sealed record SchedulePreview(IReadOnlyList<DateTimeOffset> Times, string? Error, string? ErrorField)
    {
        public static readonly SchedulePreview None = new([], null, null);
    }

    private sealed class HostForm
    {
        public string Host { get; set; } = "";
    }
}
