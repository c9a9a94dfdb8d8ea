using AgentSpace.Agents.Components;
using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Agents.Pages;

public sealed partial class AgentsIndex
{
    private AgentList? _list;

    [Inject]
    private AgentService AgentService { get; set; } = default!;

    private bool CanManage => Org?.Can(OrgRole.Admin) == true;

    private bool CanChat => Org?.Can(OrgRole.Member) == true;

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _list = await AgentService.ListAsync(actor, Slug, ct);
        return _list.Org;
    }

    private async Task DuplicateAsync(AgentRow agent)
    {
        AgentView? copy = null;
        await BusyAsync(() => TryAsync(async (actor, ct) => copy = await AgentService.DuplicateAsync(actor, Slug, agent.Id, ct)));
        if (copy is not null)
        {
            Snackbar.Add($"Created {copy.Name}.", Severity.Success);
            await ReloadListAsync();
        }
    }

    private async Task PauseAsync(AgentRow agent)
    {
        if (await PauseAgentDialog.AskAsync(Dialogs, agent.Name) is not { } reason)
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => AgentService.PauseAsync(actor, Slug, agent.Id, reason, ct), $"{agent.Name} is paused."));
        await ReloadListAsync();
    }

    private async Task ResumeAsync(AgentRow agent)
    {
        await BusyAsync(() => TryAsync((actor, ct) => AgentService.ResumeAsync(actor, Slug, agent.Id, ct), $"{agent.Name} is active again."));
        await ReloadListAsync();
    }

    private async Task DeleteAsync(AgentRow agent)
    {
        if (!await Dialogs.ConfirmAsync($"Delete {agent.Name}?",
                "The agent, every conversation with it and its memories are deleted for good. This cannot be undone.", "Delete agent"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => AgentService.DeleteAsync(actor, Slug, agent.Id, ct), $"{agent.Name} was deleted."));
        await ReloadListAsync();
    }


    private async Task ReloadListAsync()
    {
        if (NotFound)
        {
            return;
        }
        try
        {
            var actor = await Actors.GetAsync();
            _list = await AgentService.ListAsync(actor, Slug, PageToken);
            Observe(_list.Org);
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
