using AgentSpace.Components;
using AgentSpace.Identity;

namespace AgentSpace.Tenancy.Pages;

public sealed partial class Settings
{
    private readonly RenameForm _rename = new();
    private readonly DeleteForm _delete = new();
    private bool _renaming;
    private string? _renameError;
    private bool _deleting;

    private bool SlugTyped => string.Equals(_delete.TypedSlug?.Trim(), Org?.Slug, StringComparison.Ordinal);

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        var org = await base.LoadAsync(actor, ct);
        _rename.Name = org.Name;
        return org;
    }

    private async Task RenameAsync()
    {
        _renameError = OrganizationService.ValidateName(_rename.Name);
        if (_renameError is not null || _renaming)
        {
            return;
        }
        _renaming = true;
        try
        {
            if (await TryAsync((actor, ct) => Organizations.RenameAsync(actor, Slug, _rename.Name, ct), "Name saved."))
            {
                await ReloadAsync();
            }
        }
        finally
        {
            _renaming = false;
        }
    }

    private async Task DeleteAsync()
    {
        if (!SlugTyped || _deleting)
        {
            return;
        }
        if (!await Dialogs.ConfirmAsync($"Delete {Org!.Name} forever?",
                "Every member loses access and all of the organization's data is destroyed. This cannot be undone.", "Delete forever"))
        {
            return;
        }
        _deleting = true;
        try
        {
            var name = Org.Name;
            if (await TryAsync((actor, ct) => Organizations.DeleteAsync(actor, Slug, _delete.TypedSlug, ct), $"{name} was deleted."))
            {
                await OrgState.RefreshAsync(PageToken);
                Navigation.NavigateTo("/orgs");
            }
        }
        finally
        {
            _deleting = false;
        }
    }

    private sealed class RenameForm
    {
        public string? Name { get; set; }
    }

    private sealed class DeleteForm
    {
        public string? TypedSlug { get; set; }
    }
}
