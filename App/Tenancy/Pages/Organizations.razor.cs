using System.Globalization;
using System.Text;
using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using Microsoft.AspNetCore.Components;

namespace AgentSpace.Tenancy.Pages;

public sealed partial class Organizations : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly CreateForm _form = new();
    private IReadOnlyList<OrgSummary> _orgs = [];
    private bool _loading = true;
    private string? _loadError;
    private bool _creating;
    private string? _createError;
    private string? _slugProblem;
    private bool _slugEdited;

    [Inject]
    private ActorAccessor Actors { get; set; } = default!;

    [Inject]
    private OrganizationService OrganizationService { get; set; } = default!;

    [Inject]
    private CurrentOrgState OrgState { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        try
        {
            _orgs = await OrganizationService.ListMineAsync(await Actors.GetAsync(), _cts.Token);
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        catch (UserFacingException ex)
        {
            _loadError = ex.Message;
        }
        finally
        {
            _loading = false;
        }
    }

    private void OnNameChanged(string? value)
    {
        _form.Name = value;
        if (!_slugEdited)
        {
            _form.Slug = SuggestSlug(value);
            _slugProblem = null;
        }
    }

    private void OnSlugChanged(string? value)
    {
        _form.Slug = value?.Trim().ToLowerInvariant();
        // Clearing the address hands it back to the name.
        _slugEdited = !string.IsNullOrEmpty(_form.Slug);
        _slugProblem = string.IsNullOrEmpty(_form.Slug) ? null : OrganizationService.ValidateSlug(_form.Slug);
    }

    private async Task CreateAsync()
    {
        if (_creating)
        {
            return;
        }
        _createError = OrganizationService.ValidateName(_form.Name);
        _slugProblem = OrganizationService.ValidateSlug(_form.Slug);
        if (_createError is not null || _slugProblem is not null)
        {
            return;
        }
        _creating = true;
        try
        {
            var created = await OrganizationService.CreateAsync(await Actors.GetAsync(), _form.Slug, _form.Name, _cts.Token);
            await OrgState.RefreshAsync(_cts.Token);
            Navigation.NavigateTo($"/o/{Uri.EscapeDataString(created.Slug)}");
        }
        catch (UserFacingException ex)
        {
            _createError = ex.Message;
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        finally
        {
            _creating = false;
        }
    }

    /// <summary>"Acme Research GmbH" → "acme-research-gmbh": lower-case ASCII, dashes between words, at most 40 characters.</summary>
    internal static string SuggestSlug(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return "";
        }
        var sb = new StringBuilder();
        foreach (var c in name.Normalize(NormalizationForm.FormD).ToLowerInvariant())
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }
            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(c);
            }
            else if (sb.Length > 0 && sb[^1] != '-')
            {
                sb.Append('-');
            }
        }
        var slug = sb.ToString().Trim('-');
        return slug.Length > 40 ? slug[..40].TrimEnd('-') : slug;
    }

    public void Dispose()
    {
        _cts.Cancel();
        _cts.Dispose();
    }

    private sealed class CreateForm
    {
        public string? Name { get; set; }
        public string? Slug { get; set; }
    }
}
