using System.Globalization;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Audit.Pages;

public sealed partial class AuditLog
{
    // MudSelect cannot tell a null value from "no selection", so "all actions" has its own value.
    private const string AllActions = "";
    private static readonly int[] PageSizes = [25, 50, 100, 200];

    private readonly FilterForm _filter = new();
    private IReadOnlyList<string> _actions = [];
    private MudTable<AuditEvent>? _table;
    private bool _verifying;
    private AuditVerification? _verification;

    [Inject]
    private AuditService AuditService { get; set; } = default!;

    private string ExportAction => OrgPath("audit/export.csv");

    /// <summary>The current filters, as the export form's fields.</summary>
    private IEnumerable<(string Name, string Value)> ExportFields
    {
        get
        {
            if (_filter.Actor?.Trim() is { Length: > 0 } actor)
            {
                yield return ("actor", actor);
            }
            if (!string.IsNullOrEmpty(_filter.Action))
            {
                yield return ("action", _filter.Action);
            }
            if (Day(_filter.From) is { } from)
            {
                yield return ("from", from);
            }
            if (Day(_filter.To) is { } to)
            {
                yield return ("to", to);
            }
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        var view = await AuditService.OpenAsync(actor, Slug, ct);
        _actions = view.Actions;
        return view.Org;
    }

    private async Task<TableData<AuditEvent>> LoadPageAsync(TableState state, CancellationToken ct)
    {
        try
        {
            var actor = await Actors.GetAsync();
            var page = await AuditService.SearchAsync(actor, Slug, _filter.ToFilter(), state.Page + 1, state.PageSize, ct);
            return new TableData<AuditEvent> { Items = page.Items, TotalItems = page.Total };
        }
        catch (UserFacingException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
            return new TableData<AuditEvent> { Items = [], TotalItems = 0 };
        }
    }

    private async Task ApplyFiltersAsync()
    {
        if (_table is not null)
        {
            await _table.ReloadServerData();
        }
    }

    private Task OnActionChangedAsync(string? action)
    {
        _filter.Action = action;
        return ApplyFiltersAsync();
    }

    private Task OnFromChangedAsync(DateTime? date)
    {
        _filter.From = date;
        return ApplyFiltersAsync();
    }

    private Task OnToChangedAsync(DateTime? date)
    {
        _filter.To = date;
        return ApplyFiltersAsync();
    }

    private async Task VerifyAsync()
    {
        _verifying = true;
        _verification = null;
        try
        {
            await TryAsync(async (actor, ct) => _verification = await AuditService.VerifyAsync(actor, Slug, ct));
            // Verifying is itself audited: show the new entry.
            await ApplyFiltersAsync();
        }
        finally
        {
            _verifying = false;
        }
    }

    private static string? Day(DateTime? date) => date?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private sealed class FilterForm
    {
        public string? Actor { get; set; }
        public string? Action { get; set; } = AllActions;
        public DateTime? From { get; set; }
        public DateTime? To { get; set; }

        public bool IsEmpty => string.IsNullOrWhiteSpace(Actor) && string.IsNullOrEmpty(Action) && From is null && To is null;

        public AuditFilter ToFilter() => new(
            string.IsNullOrWhiteSpace(Actor) ? null : Actor.Trim(),
            string.IsNullOrEmpty(Action) ? null : Action,
            From is { } from ? DateOnly.FromDateTime(from) : null,
            To is { } to ? DateOnly.FromDateTime(to) : null);
    }
}
