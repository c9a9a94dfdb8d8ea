using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Components;

/// <summary>
/// Base for the <c>/o/{Slug}</c> pages: loads the organization for the signed-in member and turns the
/// tenancy exceptions into page states (not found, forbidden) or messages, never stack traces.
/// A page's <see cref="LoadAsync"/> returns the organization its own service call checked, so a load
/// makes one access check and a page cannot forget to set <see cref="Org"/> and render blank.
/// </summary>
public abstract class OrgPageBase : ComponentBase, IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private string? _loadedSlug;

    [Parameter]
    public string Slug { get; set; } = "";

    [Inject]
    protected ActorAccessor Actors { get; set; } = default!;

    [Inject]
    protected OrganizationService Organizations { get; set; } = default!;

    [Inject]
    protected CurrentOrgState OrgState { get; set; } = default!;

    [Inject]
    protected NavigationManager Navigation { get; set; } = default!;

    [Inject]
    protected ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    protected IDialogService Dialogs { get; set; } = default!;

    /// <summary>The organization as the signed-in member sees it; null until loaded or when not found.</summary>
    protected OrgContext? Org { get; private set; }

    protected bool Loading { get; private set; } = true;

    protected bool NotFound { get; private set; }

    /// <summary>A page-level message (forbidden, refused by a rule) shown instead of the content.</summary>
    protected string? PageError { get; set; }

    /// <summary>Cancelled when the page goes away.</summary>
    protected CancellationToken PageToken => _cts.Token;

    protected override async Task OnParametersSetAsync()
    {
        if (_loadedSlug == Slug)
        {
            return;
        }
        _loadedSlug = Slug;
        await ReloadAsync();
    }

    /// <summary>Loads (again) everything the page shows.</summary>
    protected async Task ReloadAsync()
    {
        Loading = true;
        NotFound = false;
        PageError = null;
        try
        {
            var actor = await Actors.GetAsync();
            Observe(await LoadAsync(actor, PageToken));
        }
        catch (OrgNotFoundException)
        {
            Org = null;
            NotFound = true;
        }
        catch (UserFacingException ex)
        {
            PageError = ex.Message;
        }
        catch (OperationCanceledException) when (PageToken.IsCancellationRequested)
        {
            // The page was left while loading.
        }
        finally
        {
            Loading = false;
        }
    }

    /// <summary>
    /// Loads the page's data through one service call and returns the organization that call checked the
    /// caller against. The default loads only the organization.
    /// </summary>
    protected virtual Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct) =>
        Organizations.GetAsync(actor, Slug, ct);

    /// <summary>Takes a fresher view of the organization (after a change on the page) without a full reload.</summary>
    protected void Observe(OrgContext org)
    {
        ArgumentNullException.ThrowIfNull(org);
        Org = org;
        OrgState.Observe(org);
    }

    /// <summary>
    /// Runs a user action. Refusals (<see cref="UserFacingException"/>: rules, permissions, rate limits) become
    /// an error snackbar, or go to <paramref name="onRefused"/> for a form that shows them inline; a vanished
    /// organization becomes the not-found state. Anything else is a fault for the circuit's error boundary.
    /// True on success.
    /// </summary>
    protected async Task<bool> TryAsync(Func<Actor, CancellationToken, Task> action, string? successMessage = null, Action<string>? onRefused = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        try
        {
            var actor = await Actors.GetAsync();
            await action(actor, PageToken);
            if (successMessage is not null)
            {
                Snackbar.Add(successMessage, Severity.Success);
            }
            return true;
        }
        catch (OrgNotFoundException)
        {
            Org = null;
            NotFound = true;
        }
        catch (UserFacingException ex)
        {
            if (onRefused is null)
            {
                Snackbar.Add(ex.Message, Severity.Error);
            }
            else
            {
                onRefused(ex.Message);
            }
        }
        catch (OperationCanceledException) when (PageToken.IsCancellationRequested)
        {
        }
        return false;
    }

    /// <summary>True while a <see cref="BusyAsync"/> action runs: pages disable their action buttons with it.</summary>
    protected bool Busy { get; private set; }

    /// <summary>Runs a user action with <see cref="Busy"/> set, so it cannot be started twice at once.</summary>
    protected async Task BusyAsync(Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Busy = true;
        try
        {
            await action();
        }
        finally
        {
            Busy = false;
        }
    }

    protected string OrgPath(string? rest = null) =>
        "/o/" + Uri.EscapeDataString(Slug) + (string.IsNullOrEmpty(rest) ? "" : "/" + rest);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cts.Cancel();
            _cts.Dispose();
        }
    }
}
