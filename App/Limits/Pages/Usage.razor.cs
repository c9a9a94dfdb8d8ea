using System.Globalization;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Limits.Pages;

public sealed partial class Usage
{
    private readonly QuotaForm _quota = new();
    private UsageView? _view;
    private List<ChartSeries<double>> _costSeries = [];
    private List<ChartSeries<double>> _tokenSeries = [];
    private string[] _labels = [];
    private string? _quotaError;
    private bool _busy;

    [Inject]
    private UsageService UsageService { get; set; } = default!;

    private bool CanManage => Org?.Can(OrgRole.Admin) == true;

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        Show(await UsageService.GetAsync(actor, Slug, ct));
        return _view!.Org;
    }

    private void Show(UsageView view)
    {
        _view = view;
        _quota.Usd = view.OrgMonthlyQuotaUsd;
        _labels = [.. view.Days.Select(d => d.ToString("MM-dd", CultureInfo.InvariantCulture))];
        _costSeries = [.. view.Daily.Select(a => new ChartSeries<double> { Name = a.AgentName, Data = a.CostUsd.Select(c => (double)c).ToArray() })];
        _tokenSeries = [.. view.Daily.Select(a => new ChartSeries<double> { Name = a.AgentName, Data = a.Tokens.Select(t => (double)t).ToArray() })];
    }

    private async Task RefreshAsync()
    {
        await TryAsync(async (actor, ct) => Show(await UsageService.GetAsync(actor, Slug, ct)));
    }

    private async Task ResumeAsync(AgentBudget agent)
    {
        _busy = true;
        try
        {
            string? message = null;
            if (await TryAsync(async (actor, ct) => message = await UsageService.ResumeAgentAsync(actor, Slug, agent.AgentId, ct)))
            {
                Snackbar.Add(message!, agent.BudgetUsedUp ? Severity.Warning : Severity.Success);
            }
            await RefreshAsync();
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task SaveQuotaAsync()
    {
        _quotaError = null;
        _busy = true;
        try
        {
            if (await TryAsync((actor, ct) => UsageService.SetMonthlyQuotaAsync(actor, Slug, _quota.Usd, ct),
                    _quota.Usd is null ? "The monthly quota was removed." : "The monthly quota was saved.",
                    onRefused: message => _quotaError = message))
            {
                await RefreshAsync();
            }
        }
        finally
        {
            _busy = false;
        }
    }

    private sealed class QuotaForm
    {
        public decimal? Usd { get; set; }
    }
}
