using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Providers.Pages;

/// <summary>
/// Settings → Models (Admins). The API key typed here lives in <see cref="EditorForm.ApiKey"/> only until it is
/// saved: then the editor (and the password field with it) is dropped, and the page shows the masked hint.
/// </summary>
public sealed partial class Models
{
    private ProviderList? _list;
    private EditorForm? _editor;
    private string? _editorError;
    private bool _saving;
    private readonly Dictionary<Guid, ConnectionTestResult> _tests = [];
    private readonly Dictionary<Guid, IReadOnlyList<string>> _fetched = [];
    private readonly Dictionary<Guid, TextBox> _manual = [];
    private readonly Dictionary<Guid, Selection> _selected = [];
    private readonly Dictionary<(Guid, string), PriceEdit> _prices = [];

    [Inject]
    private ProviderService Providers { get; set; } = default!;

    private string KeyHelp => _editor?.Id is null
        ? "Stored encrypted; shown once, here, as you type it. Leave empty for a local server that needs no key."
        : $"Current key: {_editor.KeyHint ?? "none"}. Leave empty to keep it; changing the kind or the address's server clears it, so enter it again then.";

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _list = await Providers.ListAsync(actor, Slug, ct);
        _prices.Clear();
        return _list.Org;
    }

    private static string KindName(ModelProviderKind kind) => kind == ModelProviderKind.Anthropic ? "Anthropic" : "OpenAI-compatible";

    private void StartAdd()
    {
        _editorError = null;
        _editor = new EditorForm { Kind = ModelProviderKind.OpenAICompatible, Name = "OpenAI", BaseUrl = ProviderService.DefaultBaseUrl(ModelProviderKind.OpenAICompatible) };
    }

    private void StartEdit(ProviderView provider)
    {
        _editorError = null;
        _editor = new EditorForm
        {
            Id = provider.Id,
            OriginalName = provider.Name,
            Name = provider.Name,
            Kind = provider.Kind,
            BaseUrl = provider.BaseUrl,
            KeyHint = provider.KeyHint,
        };
    }

    private void KindChanged(ModelProviderKind kind)
    {
        if (_editor is null)
        {
            return;
        }
        // Suggest the vendor's address while the Admin has not typed one of their own.
        if (_editor.Id is null && (string.IsNullOrWhiteSpace(_editor.BaseUrl) || _editor.BaseUrl == ProviderService.DefaultBaseUrl(_editor.Kind)))
        {
            _editor.BaseUrl = ProviderService.DefaultBaseUrl(kind);
            if (_editor.Name is "OpenAI" or "Anthropic")
            {
                _editor.Name = KindName(kind) == "Anthropic" ? "Anthropic" : "OpenAI";
            }
        }
        _editor.Kind = kind;
    }

    private void CancelEdit()
    {
        _editor = null;
        _editorError = null;
    }

    private async Task SaveAsync()
    {
        if (_editor is null || _saving)
        {
            return;
        }
        _saving = true;
        _editorError = null;
        var editor = _editor;
        try
        {
            var input = new ProviderInput(editor.Name, editor.Kind, editor.BaseUrl);
            var keyCleared = false;
            var saved = await TryAsync(async (actor, ct) =>
            {
                if (editor.Id is not { } id)
                {
                    await Providers.CreateAsync(actor, Slug, input, editor.ApiKey, ct);
                    return;
                }
                keyCleared = await Providers.UpdateAsync(actor, Slug, id, input, editor.ApiKey, ct);
            }, editor.Id is null ? $"{input.Name?.Trim()} added." : "Provider saved.", onRefused: message => _editorError = message);
            if (saved && keyCleared)
            {
                Snackbar.Add(ProviderService.KeyClearedNotice, Severity.Warning);
            }
            if (saved)
            {
                // The key leaves the circuit's state: the form object and the password field go away with the editor.
                editor.ApiKey = null;
                _editor = null;
                await ReloadListAsync();
            }
        }
        finally
        {
            _saving = false;
        }
    }

    private async Task DeleteAsync(ProviderView provider)
    {
        if (!await Dialogs.ConfirmAsync($"Delete {provider.Name}?",
                $"Its API key and model prices are deleted. Agents cannot use {provider.Name} afterwards; a provider that agents still use cannot be deleted.", "Delete"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => Providers.DeleteAsync(actor, Slug, provider.Id, ct), $"{provider.Name} deleted."));
        await ReloadListAsync();
    }

    private async Task TestAsync(ProviderView provider)
    {
        _tests.Remove(provider.Id);
        await BusyAsync(() => TryAsync(async (actor, ct) => _tests[provider.Id] = await Providers.TestConnectionAsync(actor, Slug, provider.Id, ct)));
    }

    private async Task FetchAsync(ProviderView provider)
    {
        _fetched.Remove(provider.Id);
        await BusyAsync(() => TryAsync(async (actor, ct) => _fetched[provider.Id] = await Providers.FetchModelsAsync(actor, Slug, provider.Id, ct)));
    }

    private async Task AddSelectedAsync(ProviderView provider)
    {
        var ids = SelectedFor(provider.Id).Values.ToList();
        await AddModelsAsync(provider, ids);
        _selected.Remove(provider.Id);
    }

    private async Task AddManualAsync(ProviderView provider)
    {
        var box = ManualFor(provider.Id);
        if (await AddModelsAsync(provider, [box.Text ?? ""]))
        {
            box.Text = null;
        }
    }

    private async Task<bool> AddModelsAsync(ProviderView provider, IReadOnlyList<string> ids)
    {
        var added = false;
        await BusyAsync(async () => added = await TryAsync(async (actor, ct) =>
        {
            var count = await Providers.AddModelsAsync(actor, Slug, provider.Id, ids, ct);
            Snackbar.Add(count == 0 ? "Those models are offered already." : $"{count} model{(count == 1 ? "" : "s")} added to {provider.Name}.", Severity.Success);
        }));
        await ReloadListAsync();
        return added;
    }

    private async Task SavePriceAsync(ProviderView provider, ProviderModelView model)
    {
        var price = PriceOf(provider.Id, model);
        await BusyAsync(() => TryAsync((actor, ct) => Providers.SetPriceAsync(actor, Slug, provider.Id, model.ModelId, price.Input, price.Output, ct),
            $"Price of {model.ModelId} saved."));
        await ReloadListAsync();
    }

    private async Task RemoveModelAsync(ProviderView provider, ProviderModelView model)
    {
        if (!await Dialogs.ConfirmAsync($"Stop offering {model.ModelId}?", $"Agents can no longer choose {model.ModelId} from {provider.Name}.", "Remove"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => Providers.RemoveModelAsync(actor, Slug, provider.Id, model.ModelId, ct), $"{model.ModelId} removed."));
        await ReloadListAsync();
    }

    private PriceEdit PriceOf(Guid providerId, ProviderModelView model)
    {
        if (!_prices.TryGetValue((providerId, model.ModelId), out var price))
        {
            price = new PriceEdit { Input = model.InputUsdPerMillion, Output = model.OutputUsdPerMillion };
            _prices[(providerId, model.ModelId)] = price;
        }
        return price;
    }

    private TextBox ManualFor(Guid providerId) => _manual.TryGetValue(providerId, out var box) ? box : _manual[providerId] = new TextBox();

    private Selection SelectedFor(Guid providerId) => _selected.TryGetValue(providerId, out var selection) ? selection : _selected[providerId] = new Selection();


    private async Task ReloadListAsync()
    {
        try
        {
            var actor = await Actors.GetAsync();
            _list = await Providers.ListAsync(actor, Slug, PageToken);
            _prices.Clear();
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

    private sealed class EditorForm
    {
        public Guid? Id { get; init; }
        public string? OriginalName { get; init; }
        public string? Name { get; set; }
        public ModelProviderKind Kind { get; set; }
        public string? BaseUrl { get; set; }
        public string? KeyHint { get; init; }
        public string? ApiKey { get; set; }
    }

    private sealed class PriceEdit
    {
        public decimal Input { get; set; }
        public decimal Output { get; set; }

        public bool Changed(ProviderModelView model) => Input != model.InputUsdPerMillion || Output != model.OutputUsdPerMillion;
    }

    private sealed class TextBox
    {
        public string? Text { get; set; }
    }

    private sealed class Selection
    {
        public IReadOnlyCollection<string> Values { get; set; } = [];
    }
}
