using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Boardroom.Pages;

public sealed partial class DecisionsIndex
{
    // MudSelect cannot tell a null value from "no selection", so "all" has its own value.
    private const string All = "";

    private readonly FilterForm _filter = new();
    private DecisionList? _list;

    [Inject]
    private BoardroomService Boardroom { get; set; } = default!;

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _list = await Boardroom.DecisionsAsync(actor, Slug, _filter.ToFilter(), ct);
        return _list.Org;
    }

    /// <summary>Lists again with the filters, keeping the form on the page (and the focus in the search field).</summary>
    private async Task ApplyFiltersAsync()
    {
        var filter = _filter.ToFilter();
        DecisionList? list = null;
        try
        {
            var actor = await Actors.GetAsync();
            list = await Boardroom.DecisionsAsync(actor, Slug, filter, PageToken);
        }
        catch (OrgNotFoundException)
        {
            await ReloadAsync();
            return;
        }
        catch (UserFacingException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
            return;
        }
        catch (OperationCanceledException) when (PageToken.IsCancellationRequested)
        {
            return;
        }
        _list = list;
        Observe(list.Org);
    }

    private Task OnAgentChangedAsync(string? agent)
    {
        _filter.Agent = agent;
        return ApplyFiltersAsync();
    }

    private Task OnStatusChangedAsync(string? status)
    {
        _filter.Status = status;
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

    private sealed class FilterForm
    {
        public string? Text { get; set; }
        public string? Agent { get; set; } = All;
        public string? Status { get; set; } = All;
        public DateTime? From { get; set; }
        public DateTime? To { get; set; }

        public bool IsEmpty => string.IsNullOrWhiteSpace(Text) && string.IsNullOrEmpty(Agent) && string.IsNullOrEmpty(Status) && From is null && To is null;

        public DecisionFilter ToFilter() => new(
            string.IsNullOrWhiteSpace(Text) ? null : Text.Trim(),
            Guid.TryParse(Agent, out var agent) ? agent : null,
            From is { } from ? DateOnly.FromDateTime(from) : null,
            To is { } to ? DateOnly.FromDateTime(to) : null,
            string.IsNullOrEmpty(Status) ? null : Status);
    }
}
