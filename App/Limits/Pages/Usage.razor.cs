using System.Globalization;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Limits.Pages;

public sealed partial class Usage
{
    private static readonly int[] NiceSteps = [1, 2, 5, 10];

    private readonly QuotaForm _quota = new();
    private UsageView? _view;
    private List<ChartSeries<double>> _costSeries = [];
    private List<ChartSeries<double>> _tokenSeries = [];
    private string[] _labels = [];
    private StackedBarChartOptions _costOptions = new();
    private StackedBarChartOptions _tokenOptions = new();
    private string? _quotaError;

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
        // MudBlazor's axis ticks are whole chart units (20 by default): a day's spend of a few cents would be a flat
        // line on a dollar axis. Spend is charted in a unit that makes the busiest day several units high; the axis reads in dollars.
        var maxDayUsd = view.Daily.Count == 0 ? 0 : Enumerable.Range(0, view.Days.Count).Max(i => view.Daily.Sum(a => a.CostUsd[i]));
        var (scale, tick) = Axis(maxDayUsd);
        _costSeries = [.. view.Daily.Select(a => new ChartSeries<double> { Name = a.AgentName, Data = a.CostUsd.Select(c => (double)(c * scale)).ToArray() })];
        _costOptions = new StackedBarChartOptions
        {
            YAxisTicks = tick,
            YAxisToStringFunc = v => UsageFormat.Usd((decimal)v / scale),
            XAxisLabelRotation = 45,
            // The tooltips would show the charted (scaled) number, not dollars.
            ShowToolTips = false,
        };
        _tokenSeries = [.. view.Daily.Select(a => new ChartSeries<double> { Name = a.AgentName, Data = a.Tokens.Select(t => (double)t).ToArray() })];
        var maxDayTokens = view.Daily.Count == 0 ? 0 : Enumerable.Range(0, view.Days.Count).Max(i => view.Daily.Sum(a => a.Tokens[i]));
        _tokenOptions = new StackedBarChartOptions { YAxisTicks = Axis(maxDayTokens).Tick, XAxisLabelRotation = 45 };
    }

    /// <summary>
    /// A scale (a power of ten) that makes <paramref name="max"/> at least 5 chart units, and a round tick (1, 2 or 5 times a
    /// power of ten, at least 1) that gives about five gridlines up to it.
    /// </summary>
    internal static (decimal Scale, int Tick) Axis(decimal max)
    {
        if (max <= 0)
        {
            return (1m, 1);
        }
        var scale = 1m;
        while (max * scale < 5 && scale < 1_000_000m)
        {
            scale *= 10;
        }
        var step = (double)(max * scale) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(step)));
        var nice = NiceSteps.Select(m => m * magnitude).First(t => t >= step);
        return (scale, (int)Math.Clamp(Math.Round(nice), 1, int.MaxValue));
    }

    private async Task RefreshAsync()
    {
        await TryAsync(async (actor, ct) => Show(await UsageService.GetAsync(actor, Slug, ct)));
    }

    private Task ResumeAsync(AgentBudget agent) => BusyAsync(async () =>
    {
        string? message = null;
        if (await TryAsync(async (actor, ct) => message = await UsageService.ResumeAgentAsync(actor, Slug, agent.AgentId, ct)))
        {
            Snackbar.Add(message!, agent.BudgetUsedUp ? Severity.Warning : Severity.Success);
        }
        await RefreshAsync();
    });

    private Task SaveQuotaAsync()
    {
        _quotaError = null;
        return BusyAsync(async () =>
        {
            if (await TryAsync((actor, ct) => UsageService.SetMonthlyQuotaAsync(actor, Slug, _quota.Usd, ct),
                    _quota.Usd is null ? "The monthly quota was removed." : "The monthly quota was saved.",
                    onRefused: message => _quotaError = message))
            {
                await RefreshAsync();
            }
        });
    }

    private sealed class QuotaForm
    {
        public decimal? Usd { get; set; }
    }
}
