using AgentSpace.Agents.Components;
using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Agents.Pages;

/// <summary>
/// One agent: its settings (editable by Admins, read-only for others), its actions and its memories. Also the
/// form for a new agent. Errors the service finds are shown next to the field they belong to.
/// </summary>
public sealed partial class AgentEditor
{
    private static readonly string[] Palette = ["#3f51b5", "#009688", "#4caf50", "#ff9800", "#e91e63", "#9c27b0", "#607d8b", "#795548"];

    private AgentInput? _input;
    private IReadOnlyList<ProviderChoice> _providers = [];
    private IReadOnlyList<MemoryRow>? _memories;
    private readonly NewMemory _newMemory = new();
    private string? _memoryError;
    private Dictionary<string, string> _errors = new(StringComparer.Ordinal);
    private string? _formError;
    private bool _agentMissing;
    private bool _saving;
    private bool _loaded;
    private Guid? _loadedFor;

    [Parameter]
    public Guid? AgentId { get; set; }

    [Inject]
    private AgentService AgentService { get; set; } = default!;

    private AgentView? Agent { get; set; }

    private bool IsNew => AgentId is null;

    private bool CanManage => Org?.Can(OrgRole.Admin) == true;

    private bool CanChat => Org?.Can(OrgRole.Member) == true;

    private List<BreadcrumbItem> Breadcrumbs =>
    [
        new("Agents", OrgPath("agents")),
        new(Agent?.Name ?? "New agent", href: null, disabled: true),
    ];

    private string ProviderKey => KeyOf(_input?.ProviderId);

    private IReadOnlyList<string> ModelsOfProvider =>
        _providers.FirstOrDefault(p => p.ProviderId == _input?.ProviderId)?.Models ?? [];

    protected override async Task OnParametersSetAsync()
    {
        await base.OnParametersSetAsync();
        // The same page object serves another agent (after a duplicate, or a link from one agent to another).
        if (_loaded && _loadedFor != AgentId)
        {
            await ReloadAsync();
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loaded = true;
        _loadedFor = AgentId;
        _errors = new(StringComparer.Ordinal);
        _formError = null;
        _agentMissing = false;
        if (AgentId is not { } id)
        {
            var choices = await AgentService.ListModelChoicesAsync(actor, Slug, ct);
            if (!choices.Org.Can(OrgRole.Admin))
            {
                PageError = "Only Admins and Owners can create agents.";
            }
            Agent = null;
            _memories = null;
            _providers = choices.Providers;
            _input = new AgentInput { Colour = Palette[Random.Shared.Next(Palette.Length)] };
            return choices.Org;
        }
        try
        {
            var details = await AgentService.GetAsync(actor, Slug, id, ct);
            Show(details);
            return details.Org;
        }
        catch (AgentNotFoundException)
        {
            _agentMissing = true;
            Agent = null;
            _input = null;
            return await Organizations.GetAsync(actor, Slug, ct);
        }
    }

    private void Show(AgentDetails details)
    {
        Agent = details.Agent;
        _providers = details.Providers;
        _memories = details.Memories;
        _input = details.Agent.ToInput();
    }

    private bool Has(string field) => _errors.ContainsKey(field);

    private string? ErrorOf(string field) => _errors.GetValueOrDefault(field);

    private void Clear(string field)
    {
        _errors.Remove(field);
        _formError = null;
    }

    private static string KeyOf(Guid? providerId) => providerId?.ToString() ?? "";

    private void OnProviderChanged(string key)
    {
        var choice = _providers.FirstOrDefault(p => KeyOf(p.ProviderId) == key);
        _input!.ProviderId = choice?.ProviderId;
        _input.Model = choice is { Models.Count: > 0 } ? choice.Models[0] : null;
        Clear(nameof(AgentInput.ProviderId));
        Clear(nameof(AgentInput.Model));
    }

    private void PickColour(string colour)
    {
        _input!.Colour = colour;
        Clear(nameof(AgentInput.Colour));
    }

    private bool HasTool(string tool) => _input?.Tools.Contains(tool) == true;

    private void SetTool(string tool, bool enabled)
    {
        var tools = _input!.Tools.Where(t => t != tool).ToList();
        if (enabled)
        {
            tools.Add(tool);
        }
        _input.Tools = tools;
        Clear(nameof(AgentInput.Tools));
    }

    private static string Preview(string fact) => fact.Length <= 40 ? fact : fact[..37] + "…";

    private async Task SaveAsync()
    {
        if (_saving || _input is null || !CanManage)
        {
            return;
        }
        // The same rules as the service, so most mistakes show before a round trip; the service checks again.
        _errors = AgentValidation.Check(_input);
        _formError = null;
        if (_errors.Count > 0)
        {
            return;
        }
        _saving = true;
        try
        {
            AgentView? saved = null;
            var input = _input with { };
            await TryAsync(async (actor, ct) =>
            {
                try
                {
                    saved = AgentId is { } id
                        ? await AgentService.UpdateAsync(actor, Slug, id, input, ct)
                        : await AgentService.CreateAsync(actor, Slug, input, ct);
                }
                catch (AgentValidationException ex)
                {
                    _errors = new(ex.Errors, StringComparer.Ordinal);
                    throw;
                }
            }, onRefused: message => _formError = _errors.Count > 0 ? null : message);
            if (saved is null)
            {
                return;
            }
            if (IsNew)
            {
                Snackbar.Add($"Created {saved.Name}.", Severity.Success);
                Navigation.NavigateTo(OrgPath($"agents/{saved.Id}"));
            }
            else
            {
                Snackbar.Add("Changes saved.", Severity.Success);
                Agent = saved;
                _input = saved.ToInput();
            }
        }
        finally
        {
            _saving = false;
        }
    }

    private async Task DuplicateAsync()
    {
        AgentView? copy = null;
        await BusyAsync(() => TryAsync(async (actor, ct) => copy = await AgentService.DuplicateAsync(actor, Slug, Agent!.Id, ct)));
        if (copy is not null)
        {
            Snackbar.Add($"Created {copy.Name}.", Severity.Success);
            Navigation.NavigateTo(OrgPath($"agents/{copy.Id}"));
        }
    }

    private async Task PauseAsync()
    {
        if (await PauseAgentDialog.AskAsync(Dialogs, Agent!.Name) is not { } reason)
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => AgentService.PauseAsync(actor, Slug, Agent.Id, reason, ct), $"{Agent.Name} is paused."));
        await RefreshAsync();
    }

    private async Task ResumeAsync()
    {
        await BusyAsync(() => TryAsync((actor, ct) => AgentService.ResumeAsync(actor, Slug, Agent!.Id, ct), $"{Agent!.Name} is active again."));
        await RefreshAsync();
    }

    private async Task DeleteAsync()
    {
        var agent = Agent!;
        if (!await Dialogs.ConfirmAsync($"Delete {agent.Name}?",
                "The agent, every conversation with it and its memories are deleted for good. This cannot be undone.", "Delete agent"))
        {
            return;
        }
        var deleted = false;
        await BusyAsync(async () => deleted = await TryAsync((actor, ct) => AgentService.DeleteAsync(actor, Slug, agent.Id, ct), $"{agent.Name} was deleted."));
        if (deleted)
        {
            Navigation.NavigateTo(OrgPath("agents"));
        }
    }

    private async Task AddMemoryAsync()
    {
        _memoryError = null;
        var added = false;
        await BusyAsync(async () => added = await TryAsync((actor, ct) => AgentService.AddMemoryAsync(actor, Slug, Agent!.Id, _newMemory.Fact, ct), "Memory added.",
            error => _memoryError = error));
        if (added)
        {
            _newMemory.Fact = "";
            await RefreshAsync();
        }
    }

    private sealed class NewMemory
    {
        public string Fact { get; set; } = "";
    }

    private async Task DeleteMemoryAsync(MemoryRow memory)
    {
        if (!await Dialogs.ConfirmAsync("Delete this memory?", $"{Agent!.Name} forgets: “{Preview(memory.Fact)}”. This cannot be undone.", "Delete memory"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => AgentService.DeleteMemoryAsync(actor, Slug, Agent.Id, memory.Id, ct), "Memory deleted."));
        await RefreshAsync();
    }


    /// <summary>Shows the agent as stored after an action (keeping unsaved edits would hide what the action changed).</summary>
    private async Task RefreshAsync()
    {
        if (NotFound || Agent is null)
        {
            return;
        }
        try
        {
            var actor = await Actors.GetAsync();
            var details = await AgentService.GetAsync(actor, Slug, Agent.Id, PageToken);
            Observe(details.Org);
            var unsaved = _input;
            Show(details);
            // Pausing or deleting a memory should not throw away what the Admin was typing.
            if (unsaved is not null)
            {
                _input = unsaved;
            }
        }
        catch (AgentNotFoundException)
        {
            _agentMissing = true;
        }
        catch (OrgNotFoundException)
        {
            await ReloadAsync();
        }
        catch (UserFacingException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }
}
