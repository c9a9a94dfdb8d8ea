using System.Globalization;
using System.Text.Json;
using AgentSpace.Audit;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Tenancy;

/// <summary>
/// An outsider probing an organization cannot flood its audit log: repeated denials of one kind from one
/// actor become one row per window, carrying how many there were.
/// </summary>
public sealed class AccessDenialAuditTests(AppServices app) : IClassFixture<AppServices>
{
    private static readonly TimeSpan Window = new TenancyOptions().DenialWindow;

    [Fact]
    public async Task Outsider_Probes100Times_VictimLogGetsOneRowPerWindowCarryingTheCount()
    {
        var victim = await app.NewUserAsync("victim");
        var org = await app.CreateOrgAsync(victim);
        var outsider = await app.NewUserAsync("outsider");

        for (var i = 0; i < 100; i++)
        {
            await Assert.ThrowsAsync<OrgNotFoundException>(() =>
                app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(outsider, org.Slug, default)));
        }

        // The first probe is on record at once.
        var rows = await DenialsAsync(victim, org.Slug, outsider);
        var row = Assert.Single(rows);
        Assert.Equal(AuditOutcome.Denied, row.Outcome);
        Assert.Equal(1, CountOf(row));

        // When the window closes, the other 99 arrive as one row with their count.
        app.Clock.Advance(Window + TimeSpan.FromMinutes(1));
        var until = DateTime.UtcNow.AddSeconds(15);
        while (rows.Sum(CountOf) < 100 && DateTime.UtcNow < until)
        {
            await Task.Delay(100);
            rows = await DenialsAsync(victim, org.Slug, outsider);
        }
        Assert.Equal(100, rows.Sum(CountOf));
        Assert.True(rows.Count <= 2, $"expected at most 2 rows for 100 probes, found {rows.Count}");
    }

    [Fact]
    public async Task Outsider_ProbesAgainAfterTheWindow_GetsANewRow()
    {
        var victim = await app.NewUserAsync("victim");
        var org = await app.CreateOrgAsync(victim);
        var outsider = await app.NewUserAsync("outsider");

        await ProbeAsync(outsider, org.Slug);
        app.Clock.Advance(Window + TimeSpan.FromSeconds(1));
        await ProbeAsync(outsider, org.Slug);

        var rows = await DenialsAsync(victim, org.Slug, outsider);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal(1, CountOf(r)));
    }

    [Fact]
    public async Task TwoOutsiders_AreCountedSeparately()
    {
        var victim = await app.NewUserAsync("victim");
        var org = await app.CreateOrgAsync(victim);
        var first = await app.NewUserAsync("first");
        var second = await app.NewUserAsync("second");

        await ProbeAsync(first, org.Slug);
        await ProbeAsync(second, org.Slug);

        Assert.Single(await DenialsAsync(victim, org.Slug, first));
        Assert.Single(await DenialsAsync(victim, org.Slug, second));
    }

    private Task ProbeAsync(Actor outsider, string slug) =>
        Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(outsider, slug, default)));

    private async Task<List<AuditEvent>> DenialsAsync(Actor owner, string slug, Actor outsider) =>
        [.. (await app.AuditLogAsync(owner, slug)).Where(e => e.Action == TenancyAuditActions.AccessDenied && e.ActorId == outsider.UserId)];

    /// <summary>How many denials a row stands for (rows written before coalescing stood for one).</summary>
    private static int CountOf(AuditEvent e)
    {
        using var details = JsonDocument.Parse(e.Details);
        return details.RootElement.TryGetProperty("count", out var count)
            ? int.Parse(count.GetString()!, CultureInfo.InvariantCulture)
            : 1;
    }
}
