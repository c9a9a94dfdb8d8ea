using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AgentSpace.Tenancy;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Xunit.Abstractions;

namespace AgentSpace.E2E.Workflows;

/// <summary>
/// Two App.dll processes on one database share 50 every-minute schedules across five organizations for three minute
/// boundaries: each firing makes exactly one run (Quartz fires it once, on one node, and one run row holds its fire
/// time), no firing is missed, and both nodes do part of the work.
/// </summary>
public sealed partial class WorkflowClusterTests(ITestOutputHelper output)
{
    private const int Organizations = 5;
    private const int SchedulesPerOrganization = 10;
    private const int Boundaries = 3;

    [Fact]
    public async Task TwoNodes_FiftyEveryMinuteSchedules_EachFiringMakesOneRun_NoneMissed_BothNodesWork()
    {
        var clock = Stopwatch.StartNew();
        await using var nodes = await WorkflowNodes.CreateAsync(new Dictionary<string, string>
        {
            // Each firing is logged by the node that fired it: the count of Quartz firings, beside the rows they made.
            ["Logging:LogLevel:AgentSpace.Workflows.WorkflowScheduleJob"] = "Debug",
            // This test is about firing once and never missing, not about lateness: on a machine loaded enough to
            // start a firing more than a minute late, Quartz's misfire policy would fire it late under another key.
            ["Workflows:Scheduler:MisfireThreshold"] = "00:05:00",
        });

        // The schedules are stored first (in the shared job store), then both nodes start and split them between them.
        var workflows = nodes.Get<WorkflowService>();
        var orgs = new List<(AgentSpace.Identity.Actor Owner, OrgSummary Org)>();
        var schedules = new HashSet<Guid>();
        for (var o = 0; o < Organizations; o++)
        {
            var (owner, org) = await nodes.CreateOrgAsync($"cluster{o}");
            orgs.Add((owner, org));
            for (var s = 0; s < SchedulesPerOrganization; s++)
            {
                schedules.Add(await workflows.SaveAsync(owner, org.Slug, null, new WorkflowInput($"Every minute {s}", null,
                    [new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "ok", Pattern = "ok", OnMatch = ConditionActions.Continue }],
                    "* * * * *", "UTC", true), default));
            }
        }
        var started = await Task.WhenAll(nodes.StartNodeAsync(), nodes.StartNodeAsync());
        var (a, b) = (started[0], started[1]);
        while (await nodes.CheckedInNodesAsync() < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(240), "Both nodes did not check in to the cluster.");
            await Task.Delay(250);
        }

        // The window: the minute boundaries after both nodes joined (with a few seconds' margin).
        var now = DateTimeOffset.UtcNow.AddSeconds(3);
        var firstBoundary = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddMinutes(1);
        var window = Enumerable.Range(0, Boundaries).Select(i => firstBoundary.AddMinutes(i)).ToList();
        var keys = window.Select(t => "schedule:" + t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).ToHashSet(StringComparer.Ordinal);
        output.WriteLine($"Both nodes joined after {clock.Elapsed.TotalSeconds:F0} s; window {window[0]:HH:mm} to {window[^1]:HH:mm} UTC.");

        // Waits past the last boundary until every run of the window is stored and ended (or two minutes have gone by).
        var expected = schedules.Count * Boundaries;
        List<ScheduledRun> runs;
        while (true)
        {
            runs = await ScheduledRunsAsync(nodes, orgs);
            var inWindow = runs.Where(r => keys.Contains(r.TriggerKey)).ToList();
            if (DateTimeOffset.UtcNow > window[^1].AddSeconds(5) && inWindow.Count >= expected && inWindow.All(r => RunStatus.IsFinal(r.Status)))
            {
                break;
            }
            Assert.True(DateTimeOffset.UtcNow < window[^1].AddSeconds(120),
                $"{inWindow.Count} of {expected} runs in the window after the last boundary.\nNode A:\n{a.Output}\nNode B:\n{b.Output}");
            await Task.Delay(1000);
        }
        // A few seconds more, so a second firing of the last boundary would have shown.
        await Task.Delay(TimeSpan.FromSeconds(3));
        runs = await ScheduledRunsAsync(nodes, orgs);

        // Rows: one run per schedule per boundary, none missing, none twice, each succeeded.
        var missing = new List<string>();
        foreach (var schedule in schedules)
        {
            foreach (var key in keys)
            {
                var count = runs.Count(r => r.WorkflowId == schedule && r.TriggerKey == key);
                if (count != 1)
                {
                    missing.Add($"{schedule} {key}: {count} runs");
                }
            }
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
        var windowRuns = runs.Where(r => keys.Contains(r.TriggerKey)).ToList();
        Assert.All(windowRuns, r => Assert.Equal(RunStatus.Succeeded, r.Status));
        // Every scheduled run's key is a whole minute: no firing was misfired into a late, off-boundary one.
        var firstKey = "schedule:" + window[0].UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        Assert.All(runs.Where(r => string.CompareOrdinal(r.TriggerKey, firstKey) >= 0), r => Assert.EndsWith(":00Z", r.TriggerKey, StringComparison.Ordinal));

        // Firings, as each node logged them: each (schedule, boundary) fired exactly once across the cluster.
        var firedA = Firings(a.FullOutput).Where(f => keys.Contains("schedule:" + f.Scheduled)).ToList();
        var firedB = Firings(b.FullOutput).Where(f => keys.Contains("schedule:" + f.Scheduled)).ToList();
        var fired = firedA.Concat(firedB).GroupBy(f => (f.WorkflowId, f.Scheduled)).ToList();
        Assert.Equal(expected, fired.Count);
        Assert.All(fired, g => Assert.Single(g));
        Assert.DoesNotContain("was already taken by another node", a.FullOutput + b.FullOutput, StringComparison.Ordinal);

        // Both nodes fired some schedules and ran some runs.
        var ranBy = windowRuns.GroupBy(r => r.Node).ToDictionary(g => g.Key ?? "", g => g.Count());
        output.WriteLine($"Firings in the window: node A {firedA.Count}, node B {firedB.Count}; runs by node: "
            + string.Join(", ", ranBy.Select(kv => $"{kv.Key} {kv.Value}")) + $"; total {clock.Elapsed.TotalSeconds:F0} s.");
        Assert.True(firedA.Count > 0 && firedB.Count > 0, $"Firings: node A {firedA.Count}, node B {firedB.Count}.");
        Assert.Equal(2, ranBy.Count);
    }

    private sealed record ScheduledRun(Guid WorkflowId, string TriggerKey, string Status, string? Node);

    private sealed record Firing(Guid WorkflowId, string Scheduled);

    private static async Task<List<ScheduledRun>> ScheduledRunsAsync(WorkflowNodes nodes, List<(AgentSpace.Identity.Actor Owner, OrgSummary Org)> orgs)
    {
        var operations = nodes.Get<TenantOperation>();
        var all = new List<ScheduledRun>();
        foreach (var (_, org) in orgs)
        {
            all.AddRange(await operations.RunAsSystemAsync(org.Id, "test: read scheduled runs", (w, t) =>
                w.Db.WorkflowRuns.AsNoTracking().Where(r => r.Trigger == RunTriggers.Schedule)
                    .Select(r => new ScheduledRun(r.WorkflowId, r.TriggerKey!, r.Status, r.Node)).ToListAsync(t), default));
        }
        return all;
    }

    private static IEnumerable<Firing> Firings(string log) =>
        FiredLine().Matches(log).Select(m => new Firing(Guid.Parse(m.Groups[1].Value), m.Groups[2].Value));

    [GeneratedRegex(@"Schedule of workflow ([0-9a-f-]{36}) fired for (\S+) on")]
    private static partial Regex FiredLine();
}
