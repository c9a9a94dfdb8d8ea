using System.Text.RegularExpressions;
using AgentSpace.E2E.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Audit;

/// <summary>
/// An organization's audit log as its owner sees it: the events are listed, exported as CSV, and
/// "Verify integrity" names the row someone with database access changed behind the app's back.
/// </summary>
public sealed partial class AuditVerifyTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    [Fact]
    public async Task VerifyIntegrity_AfterSuperuserTampersRow_ReportsBrokenRow()
    {
        var shots = new Screenshots(output, nameof(VerifyIntegrity_AfterSuperuserTampersRow_ReportsBrokenRow));
        var slug = "audit-" + Guid.NewGuid().ToString("N")[..8];
        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync("Audited Labs", slug);

        var page = owner.Page;
        await owner.GotoAsync($"/o/{slug}/audit");
        var events = page.GetByRole(AriaRole.Table, new() { Name = "Audit events" });
        await Expect(events.GetByRole(AriaRole.Cell, new() { Name = "org.created", Exact = true })).ToBeVisibleAsync();

        var verify = page.GetByRole(AriaRole.Button, new() { Name = "Verify integrity" });
        await verify.ClickAsync();
        await Expect(page.GetByText(IntactMessage())).ToBeVisibleAsync();
        await shots.TakeAsync(page, "verified-intact");

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync());
        Assert.EndsWith(".csv", download.SuggestedFilename, StringComparison.Ordinal);
        var csvPath = await download.PathAsync();
        var lines = await File.ReadAllLinesAsync(csvPath);
        Assert.StartsWith("seq,occurred_at_utc,", lines[0], StringComparison.Ordinal);
        output.WriteLine($"{download.SuggestedFilename}:\n{string.Join('\n', lines)}");
        // Text fields are quoted (and formula-escaped) by the export.
        Assert.Contains(lines, line => line.Contains(",\"org.created\",", StringComparison.Ordinal));

        // Someone with database access rewrites who did the first event; the app is not told.
        var schema = await app.ScalarAsSuperuserAsync<string>("select schema_name from platform.organizations where slug = @slug", ("slug", slug));
        Assert.Matches(TenantSchema(), schema);
        var tampered = await app.ExecuteAsSuperuserAsync($"update \"{schema}\".audit_events set actor_email = 'someone-else@example.com' where seq = 1");
        Assert.Equal(1, tampered);

        await verify.ClickAsync();
        await Expect(page.GetByText(BrokenAtRowOne())).ToBeVisibleAsync();
        await Expect(page.GetByText(IntactMessage())).ToHaveCountAsync(0);
        await shots.TakeAsync(page, "verified-broken");
    }

    // Anchored: the table's audit.verified rows repeat the message after "result: ".
    [GeneratedRegex(@"^OK: \d+ event\(s\), chain unbroken$")]
    private static partial Regex IntactMessage();

    // "row 1" and not "row 12": the tampered row is the one named.
    [GeneratedRegex(@"^Broken at row 1\b")]
    private static partial Regex BrokenAtRowOne();

    [GeneratedRegex("^t_[a-z0-9]+$")]
    private static partial Regex TenantSchema();
}
