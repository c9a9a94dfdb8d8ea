using System.Diagnostics;
using System.Globalization;
using AgentSpace;
using AgentSpace.Bench;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

// The workflow scheduler under 5,000 cron schedules across 500 organizations on two App.dll processes, on a fresh
// database of the local cluster (scripts/postgres.sh). Setup goes through the app's own services in this process
// (OrganizationService.CreateAsync, WorkflowService.SaveAsync with a cron, which puts one Quartz job and cron trigger
// per schedule in the clustered store, keyed by organization); this process never starts a scheduler. Each workflow is
// one condition step, so what is measured is the scheduler and the run bookkeeping, not a model.
// Two App.dll processes (Release, Workflows:Scheduler:Enabled=true) then fire them. Lag of a firing = the run row's
// created_at (written by the firing node inside WorkflowScheduleJob) minus the fire time in its trigger key
// ("schedule:<utc>"). A trigger on each tenant's workflow_runs (installed here, in the benchmark's database only)
// records which process inserted each run and which took it up (the connection's application name).
// After the window, one process is killed with SIGKILL a moment after a minute's firings began, and the survivor's
// takeover is timed.
var minutes = ArgValue("--minutes", 10);
var tenants = ArgValue("--tenants", 500);
var perTenant = ArgValue("--per-tenant", 10);
var every = ArgValue("--every", 10);
var warmup = ArgValue("--warmup", 2);
var failover = ArgValue("--failover", 1) == 1;
var killAfterRuns = ArgValue("--kill-after-runs", 3);
var killByMs = ArgValue("--kill-by-ms", 30_000);
var parallel = ArgValue("--setup-parallel", 4);
var output = ArgString("--output", Path.Combine(TestDatabase.RepoRoot(), "bench", "results", "workflow-latest.txt"));
var nodeSettings = ArgValues("--node");
if (60 % every != 0)
{
    throw new ArgumentException("--every must divide 60 (a schedule fires every N minutes, at minutes offset, offset + N, ...).");
}
var inv = CultureInfo.InvariantCulture;

var report = new List<string>();
void Say(string line)
{
    Console.WriteLine(line);
    report.Add(line);
}

var started = Stopwatch.StartNew();
var database = await TestDatabase.CreateAsync();
try
{
    var masterKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    var mailFolder = Path.Combine(Path.GetTempPath(), "agentspace-bench-wf-mail-" + Guid.NewGuid().ToString("N"));
    Say($"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}; machine: {Environment.ProcessorCount} cores (nproc), {CpuModel()}, {MemTotal()}, {Environment.OSVersion}, " +
        $".NET {Environment.Version}; PostgreSQL {await database.ScalarAsAdminAsync<string>("show server_version")} on 127.0.0.1, fsync {await database.ScalarAsAdminAsync<string>("show fsync")}, " +
        $"max_connections {await database.ScalarAsAdminAsync<string>("show max_connections")}; {Git()}");
    Say($"load before setup: {Load()}");

    // ---- setup, through the app's services (no scheduler started in this process) ----
    var workflows = new List<(Guid Org, string Schema, Guid Workflow, int Offset)>();
    await using (var setup = SetupServices(database.AppConnectionString, masterKey, mailFolder))
    {
        await setup.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(default);
        var owner = await NewUserAsync(setup, "wf-bench-owner@bench.test");
        var orgs = new (Guid Id, string Slug)[tenants];
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, tenants), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
        {
            await using var scope = setup.CreateAsyncScope();
            var org = await scope.ServiceProvider.GetRequiredService<OrganizationService>().CreateAsync(owner, $"wf-bench-{i:D4}", $"Workflow bench {i}", ct);
            orgs[i] = (org.Id, org.Slug);
        });
        Say($"setup: {tenants} organizations created (OrganizationService.CreateAsync: schema, role, tenant migrations) in {watch.Elapsed.TotalSeconds:F0} s");
        var schemas = new Dictionary<Guid, string>();
        await using (var conn = new NpgsqlConnection(database.AdminConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("select id, schema_name from platform.organizations", conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                schemas[reader.GetGuid(0)] = reader.GetString(1);
            }
        }
        watch.Restart();
        var made = new (Guid Org, string Schema, Guid Workflow, int Offset)[tenants * perTenant];
        await Parallel.ForEachAsync(Enumerable.Range(0, tenants * perTenant), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (g, ct) =>
        {
            var (orgId, slug) = orgs[g / perTenant];
            var offset = g % every;
            await using var scope = setup.CreateAsyncScope();
            var input = new WorkflowInput($"Schedule {g % perTenant}", "Benchmark schedule",
                [new WorkflowStep { Name = "check", Kind = StepKinds.Condition, Text = "tick", Pattern = "tick", OnMatch = ConditionActions.Continue }],
                Cron(offset), "UTC", true);
            var id = await scope.ServiceProvider.GetRequiredService<WorkflowService>().SaveAsync(owner, slug, null, input, ct);
            made[g] = (orgId, schemas[orgId], id, offset);
        });
        workflows.AddRange(made);
        Say($"setup: {made.Length} workflows saved with a schedule (WorkflowService.SaveAsync, {parallel} at a time) in {watch.Elapsed.TotalSeconds:F0} s; " +
            $"cron: {(every == 1 ? "\"* * * * *\" for all" : $"\"<o>-59/{every} * * * *\" with offset o = index mod {every}")}, UTC");
    }
    var triggers = await database.ScalarAsAdminAsync<long>("select count(*) from quartz.qrtz_cron_triggers");
    var jobGroups = await database.ScalarAsAdminAsync<long>("select count(distinct job_group) from quartz.qrtz_job_details");
    Say($"setup: Quartz store holds {triggers} cron triggers, jobs in {jobGroups} groups (one per organization)");
    await InstallRunRecorderAsync(database, workflows.Select(w => w.Schema).Distinct());
    var offsetOf = workflows.ToDictionary(w => w.Workflow, w => w.Offset);

    // ---- two App.dll processes ----
    var environment = new Dictionary<string, string>
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["Database__MigrateOnStartup"] = "false",
        ["Email__PickupDirectory"] = mailFolder,
        ["Vault__MasterKey"] = masterKey,
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
        ["Workflows__Scheduler__Enabled"] = "true",
    };
    foreach (var setting in nodeSettings)
    {
        var eq = setting.IndexOf('=', StringComparison.Ordinal);
        environment[setting[..eq]] = setting[(eq + 1)..];
    }
    var settingsShown = nodeSettings.Count == 0 ? "app defaults" : string.Join(", ", nodeSettings);
    Say($"nodes: 2 App.dll processes (Release, Development environment, plain http, server GC), Workflows:Scheduler:Enabled=true, {settingsShown}; " +
        "scheduler options (WorkflowSchedulerOptions defaults unless set above): MaxConcurrency 10, CheckinInterval 5 s, CheckinMisfireThreshold 15 s, MisfireThreshold 60 s");
    var nodes = new List<Node>();
    var instances = new Dictionary<string, string>();
    foreach (var name in new[] { "node-a", "node-b" })
    {
        var env = new Dictionary<string, string>(environment)
        {
            ["ConnectionStrings__Default"] = new NpgsqlConnectionStringBuilder(database.AppConnectionString) { ApplicationName = name }.ConnectionString,
        };
        var node = await Node.StartAsync(name, env);
        nodes.Add(node);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var known = await SchedulerInstancesAsync(database);
            var fresh = known.Where(k => !instances.ContainsKey(k)).ToList();
            if (fresh.Count == 1)
            {
                instances[fresh[0]] = name;
                break;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name}'s scheduler did not join the cluster (instances: {string.Join(", ", known)}).");
            }
            await Task.Delay(200);
        }
        Console.WriteLine($"{name} up (pid {node.Pid}), scheduler instance {instances.First(i => i.Value == name).Key}");
    }
    var nodeA = nodes[0];
    var nodeB = nodes[1];

    var first = NextMinute(DateTimeOffset.UtcNow.AddSeconds(5));
    var windowStart = first.AddMinutes(warmup);
    var windowEnd = windowStart.AddMinutes(minutes);
    Console.WriteLine($"warm-up firings from {first:HH:mm}, measured window {windowStart:HH:mm:ss}–{windowEnd:HH:mm:ss} UTC");
    await WaitUntilAsync(windowStart.AddSeconds(-1), database, "warm-up");
    var loadBefore = Load();
    var cpuBefore = (A: nodeA.CpuTime(), B: nodeB.CpuTime(), Machine: MachineCpu());
    var loads = new List<double>();
    await WaitUntilAsync(windowEnd.AddSeconds(-1), database, "window", loads);
    var cpuAfter = (A: nodeA.CpuTime(), B: nodeB.CpuTime(), Machine: MachineCpu());
    var loadAfter = Load();
    var windowSeconds = (windowEnd - windowStart).TotalSeconds;

    // ---- failover: SIGKILL node-b a moment after the next minute's firings began ----
    DateTimeOffset? killAt = null;
    DateTimeOffset? takeoverAt = null;
    string firedBefore = "", firedAfter = "";
    var failoverBoundary = windowEnd;
    var failoverLoad = "";
    if (failover)
    {
        // Killed once it has taken up a few of this minute's runs (so runs are in flight on it), or at the latest --kill-by-ms
        // after the minute began; its share of the minute's firings not yet fired is then the survivor's.
        var wait = failoverBoundary - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
        var latest = failoverBoundary.AddMilliseconds(killByMs);
        while (DateTimeOffset.UtcNow < latest && await TakeUpsSinceAsync(database, nodeB.Name, failoverBoundary) < killAfterRuns)
        {
            await Task.Delay(50);
        }
        firedBefore = await FiredTriggersAsync(database, instances);
        nodeB.Kill();
        killAt = DateTimeOffset.UtcNow;
        Console.WriteLine($"killed node-b (SIGKILL) at {killAt:HH:mm:ss.fff}");
        var deadInstance = instances.First(i => i.Value == nodeB.Name).Key;
        var deadline = killAt.Value.AddSeconds(90);
        while (DateTimeOffset.UtcNow < deadline)
        {
            var known = await SchedulerInstancesAsync(database);
            if (!known.Contains(deadInstance))
            {
                takeoverAt = DateTimeOffset.UtcNow;
                break;
            }
            await Task.Delay(100);
        }
        firedAfter = await FiredTriggersAsync(database, instances);
        await WaitUntilAsync(failoverBoundary.AddMinutes(2).AddSeconds(-1), database, "after the kill");
        failoverLoad = Load();
    }
    // Let the last firings' runs end (a minute at most).
    var runs = await RunsAsync(database, workflows.Select(w => w.Schema).Distinct());
    for (var i = 0; i < 12 && runs.Any(r => !RunStatus.IsFinal(r.Status)); i++)
    {
        await Task.Delay(5000);
        runs = await RunsAsync(database, workflows.Select(w => w.Schema).Distinct());
    }
    var events = await RunEventsAsync(database);

    // ---- analysis ----
    var appOfInsert = events.Where(e => e.Op == "insert").GroupBy(e => e.RunId).ToDictionary(g => g.Key, g => g.First().App);
    var appOfInstance = new Dictionary<string, string>(instances);
    var firings = new List<Firing>();
    foreach (var run in runs.Where(r => r.Trigger == RunTriggers.Schedule && r.TriggerKey is not null))
    {
        var key = DateTimeOffset.ParseExact(run.TriggerKey!["schedule:".Length..], "yyyy-MM-dd'T'HH:mm:ss'Z'", inv, DateTimeStyles.AssumeUniversal);
        var offset = offsetOf[run.WorkflowId];
        var onGrid = key.Second == 0 && key.Minute % every == offset;
        // A firing Quartz treated as misfired (more than MisfireThreshold late) is fired "now" under a new fire time;
        // its slot is the grid time it stood for.
        var slot = onGrid ? key : PreviousSlot(key, offset);
        firings.Add(new Firing(run, slot, onGrid, appOfInsert.GetValueOrDefault(run.Id, "?"),
            run.Node is { } n ? appOfInstance.GetValueOrDefault(n, n) : "-"));
    }

    Say("");
    Say($"[1] fire lag over {minutes} minutes ({windowStart:HH:mm}–{windowEnd:HH:mm} UTC, {minutes} firing minutes), both nodes up; {loadBefore} before, {loadAfter} after, " +
        $"1-min load during min {loads.DefaultIfEmpty().Min():F2} max {loads.DefaultIfEmpty().Max():F2}");
    var window = Analyse(firings, workflows, windowStart, windowEnd, every);
    foreach (var line in window.Lines)
    {
        Say("  " + line);
    }
    Say($"  per process: fired (inserted the run) node-a {window.InWindow.Count(f => f.FiredBy == nodeA.Name)}, node-b {window.InWindow.Count(f => f.FiredBy == nodeB.Name)}; " +
        $"ran (took the run up last) node-a {window.InWindow.Count(f => f.RanBy == nodeA.Name)}, node-b {window.InWindow.Count(f => f.RanBy == nodeB.Name)}");
    Say($"  CPU over the window: node-a {Pct(cpuAfter.A - cpuBefore.A, windowSeconds)} of one core, node-b {Pct(cpuAfter.B - cpuBefore.B, windowSeconds)}; " +
        $"whole machine busy {MachineBusy(cpuBefore.Machine, cpuAfter.Machine)} of {Environment.ProcessorCount} cores (everything on it: PostgreSQL, both nodes, other users)");
    Say($"  duplicate firings refused by the unique (workflow, trigger key) index, from the nodes' logs (whole run): node-a {nodeA.Duplicates}, node-b {nodeB.Duplicates}; error lines logged: node-a {nodeA.Errors}, node-b {nodeB.Errors}");

    if (failover && killAt is { } kill)
    {
        Say("");
        Say($"[2] failover: node-b killed with SIGKILL at {kill:HH:mm:ss.fff}, {(kill - failoverBoundary).TotalMilliseconds:F0} ms after the {failoverBoundary:HH:mm} firings were due " +
            $"(once it had taken up {killAfterRuns} of their runs, or {killByMs} ms at the latest); load after: {failoverLoad}");
        Say($"  Quartz fired-trigger rows just before the kill: {firedBefore}; after the takeover: {firedAfter}");
        Say(takeoverAt is { } t
            ? $"  node-a removed node-b from the cluster (its qrtz_scheduler_state row deleted, recovery done) {(t - kill).TotalSeconds:F1} s after the kill " +
              "(bounded by CheckinMisfireThreshold 15 s + CheckinInterval 5 s)"
            : "  node-b's qrtz_scheduler_state row was still there 90 s after the kill");
        var due = Analyse(firings, workflows, failoverBoundary, failoverBoundary.AddMinutes(1), every);
        var dueFirings = due.InWindow;
        var beforeKill = dueFirings.Where(f => f.Run.CreatedAt <= kill).ToList();
        var afterKill = dueFirings.Where(f => f.Run.CreatedAt > kill).ToList();
        Say($"  the {failoverBoundary:HH:mm} firings ({due.Expected} due): {beforeKill.Count} stored before the kill (node-a {beforeKill.Count(f => f.FiredBy == nodeA.Name)}, node-b {beforeKill.Count(f => f.FiredBy == nodeB.Name)}), " +
            $"{afterKill.Count} after (node-a {afterKill.Count(f => f.FiredBy == nodeA.Name)}, node-b {afterKill.Count(f => f.FiredBy == nodeB.Name)}); missed {due.Missed}, doubles {due.Doubles}");
        if (afterKill.Count > 0)
        {
            var since = afterKill.Select(f => (f.Run.CreatedAt - kill).TotalSeconds).Order().ToList();
            var afterTakeover = takeoverAt is { } over ? afterKill.Count(f => f.Run.CreatedAt > over) : 0;
            Say($"  stored after the kill, all by node-a, seconds after it: median {since[since.Count / 2]:F2}, last {since[^1]:F2}; {afterTakeover} only after node-b was removed from the cluster");
            Say($"  => every firing of that minute still to fire when node-b died was fired by node-a within {since[^1]:F1} s of the kill");
        }
        var inFlight = events.Where(e => e.Op == "update" && e.App == nodeB.Name && e.At <= kill).Select(e => e.RunId).ToHashSet();
        var byId = runs.ToDictionary(r => r.Id);
        var cut = inFlight.Where(id => byId.TryGetValue(id, out var r) && (r.EndedAt is null || r.EndedAt > kill)).ToList();
        Say($"  runs node-b had taken up and not ended when it died: {cut.Count}");
        foreach (var line in due.Lines)
        {
            Say("  " + due.Label + line);
        }
        var next = Analyse(firings, workflows, failoverBoundary.AddMinutes(1), failoverBoundary.AddMinutes(2), every);
        foreach (var line in next.Lines)
        {
            Say("  " + next.Label + line);
        }
        Say($"  {next.Label}per process: fired node-a {next.InWindow.Count(f => f.FiredBy == nodeA.Name)}, node-b {next.InWindow.Count(f => f.FiredBy == nodeB.Name)}");
        var resumed = runs.Where(r => r.Attempts > 1).ToList();
        var takeUps = events.Where(e => e.Op == "update" && e.Attempts > 1).ToList();
        Say($"  runs taken up again after the crash (attempts > 1, recovery requested): {resumed.Count}" +
            (resumed.Count > 0
                ? $"; taken up again {Secs(takeUps.Select(e => (e.At - kill).TotalSeconds))} after the kill, ended {Secs(resumed.Where(r => r.EndedAt is not null).Select(r => (r.EndedAt!.Value - kill).TotalSeconds))} after it; " +
                  $"final states: {string.Join(", ", resumed.GroupBy(r => r.Status).Select(g => $"{g.Key} {g.Count()}"))}"
                : ""));
    }
    // The schedules go on firing while the last runs drain: only runs of the measured minutes count as stuck.
    var measuredEnd = failover ? failoverBoundary.AddMinutes(2) : windowEnd;
    var stuck = firings.Where(f => f.Slot < measuredEnd && !RunStatus.IsFinal(f.Run.Status)).Select(f => f.Run).ToList();
    var later = runs.Count(r => !RunStatus.IsFinal(r.Status)) - stuck.Count;
    Say($"  runs of the measured minutes not ended at the end (60 s after the last measured firing): {stuck.Count}" + (stuck.Count > 0
        ? $" ({string.Join(", ", stuck.GroupBy(r => (r.Status, r.Node is { } n ? appOfInstance.GetValueOrDefault(n, n) : "no node")).Select(g => $"{g.Key.Status} on {g.Key.Item2}: {g.Count()}"))}; " +
          $"fire times {string.Join(", ", stuck.Select(r => r.TriggerKey).Distinct().Order())})"
        : "") + $"; runs of later firings still in progress: {later}");
    Say($"whole run {started.Elapsed.TotalMinutes:F1} min; load at the end: {Load()}");

    foreach (var node in nodes)
    {
        await node.DisposeAsync();
    }
    Directory.CreateDirectory(Path.GetDirectoryName(output)!);
    await File.WriteAllLinesAsync(output, report);
    Console.WriteLine($"written to {output}");
    if (Directory.Exists(mailFolder))
    {
        Directory.Delete(mailFolder, recursive: true);
    }
}
finally
{
    await DropAsync(database);
}
return;

// Drops the database and its 500 tenant roles with no statement timeout: on the shared cluster a DROP ROLE can wait
// behind other people's transactions for longer than the default 30 s.
static async Task DropAsync(TestDatabase database)
{
    var roles = new List<string>();
    await using (var conn = new NpgsqlConnection(database.AdminConnectionString))
    {
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select nspname from pg_namespace where nspname ~ '^t_[a-z0-9]{8,32}$'", conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            roles.Add(TenantSchemaName.Parse(reader.GetString(0)).Value);
        }
    }
    NpgsqlConnection.ClearAllPools();
    var (_, admin) = TestDatabase.Connections();
    await using var server = new NpgsqlConnection(admin);
    await server.OpenAsync();
    await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database.Name} WITH (FORCE)", server) { CommandTimeout = 0 })
    {
        await drop.ExecuteNonQueryAsync();
    }
    foreach (var role in roles)
    {
        await using var dropRole = new NpgsqlCommand($"DROP ROLE IF EXISTS \"{role}\"", server) { CommandTimeout = 0 };
        await dropRole.ExecuteNonQueryAsync();
    }
    Console.WriteLine($"dropped database {database.Name} and its {roles.Count} tenant roles");
}

// ---------------------------------------------------------------------------------------------------------------

string Cron(int offset) => every == 1 ? "* * * * *" : $"{offset}-59/{every} * * * *";

DateTimeOffset PreviousSlot(DateTimeOffset at, int offset)
{
    var t = new DateTimeOffset(at.Year, at.Month, at.Day, at.Hour, at.Minute, 0, TimeSpan.Zero);
    while (t.Minute % every != offset)
    {
        t = t.AddMinutes(-1);
    }
    return t;
}

static Result Analyse(List<Firing> firings, List<(Guid Org, string Schema, Guid Workflow, int Offset)> workflows, DateTimeOffset from, DateTimeOffset to, int every)
{
    var inv = CultureInfo.InvariantCulture;
    var slots = new List<DateTimeOffset>();
    for (var t = from; t < to; t = t.AddMinutes(1))
    {
        slots.Add(t);
    }
    var expected = slots.Sum(t => workflows.Count(w => t.Minute % every == w.Offset));
    var inWindow = firings.Where(f => f.Slot >= from && f.Slot < to).ToList();
    var bySlot = inWindow.GroupBy(f => (f.Run.WorkflowId, f.Slot)).ToList();
    var missed = expected - bySlot.Count;
    var doubles = bySlot.Count(g => g.Count() > 1);
    var misfired = inWindow.Count(f => !f.OnGrid);
    var fire = inWindow.Select(f => (f.Run.CreatedAt - f.Slot).TotalMilliseconds).Order().ToList();
    var start = inWindow.Where(f => f.Run.StartedAt is not null).Select(f => (f.Run.StartedAt!.Value - f.Slot).TotalMilliseconds).Order().ToList();
    var end = inWindow.Where(f => f.Run.EndedAt is not null).Select(f => (f.Run.EndedAt!.Value - f.Slot).TotalMilliseconds).Order().ToList();
    var label = to - from == TimeSpan.FromMinutes(1) ? $"{from:HH:mm}: " : "";
    var lines = new List<string>
    {
        $"firings due {expected}, stored {inWindow.Count} (one run each), missed {missed}, double {doubles}, fired as misfires (over 60 s late, new fire time) {misfired}",
        $"fire lag (run row created − scheduled time), ms: {Stats(fire)}",
        $"run started (taken up by a node) − scheduled, ms: {Stats(start)}",
        $"run ended − scheduled, ms: {Stats(end)}",
    };
    if (to - from > TimeSpan.FromMinutes(1))
    {
        var perMinute = inWindow.GroupBy(f => f.Slot.ToString("HH:mm", inv)).OrderBy(g => g.Key)
            .Select(g => $"{g.Key} p50 {P(g.Select(f => (f.Run.CreatedAt - f.Slot).TotalMilliseconds).Order().ToList(), 0.5):F0} / p99 {P(g.Select(f => (f.Run.CreatedAt - f.Slot).TotalMilliseconds).Order().ToList(), 0.99):F0} / max {g.Max(f => (f.Run.CreatedAt - f.Slot).TotalMilliseconds):F0}");
        lines.Add("fire lag per firing minute (p50 / p99 / max ms): " + string.Join("; ", perMinute));
        // How fast the cluster drains a minute's burst: firings stored per second after the minute began.
        var drain = inWindow.GroupBy(f => (int)Math.Floor((f.Run.CreatedAt - f.Slot).TotalSeconds)).OrderBy(g => g.Key).Take(15)
            .Select(g => $"{g.Key}s: {g.Count()}");
        lines.Add("firings stored by second after the minute began (all minutes together): " + string.Join(", ", drain));
    }
    return new Result(expected, missed, doubles, inWindow, lines, label);
}

static string Stats(List<double> sorted) => sorted.Count == 0
    ? "none"
    : string.Create(CultureInfo.InvariantCulture, $"n {sorted.Count}, p50 {P(sorted, 0.5):F0}, p95 {P(sorted, 0.95):F0}, p99 {P(sorted, 0.99):F0}, max {sorted[^1]:F0}, min {sorted[0]:F0}");

static double P(List<double> sorted, double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

static string Secs(IEnumerable<double> values)
{
    var list = values.Order().ToList();
    return list.Count == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{list[0]:F1}–{list[^1]:F1} s");
}

static DateTimeOffset NextMinute(DateTimeOffset at)
{
    var t = new DateTimeOffset(at.Year, at.Month, at.Day, at.Hour, at.Minute, 0, TimeSpan.Zero);
    return t < at ? t.AddMinutes(1) : t;
}

static async Task WaitUntilAsync(DateTimeOffset until, TestDatabase database, string phase, List<double>? loads = null)
{
    while (DateTimeOffset.UtcNow < until)
    {
        var left = until - DateTimeOffset.UtcNow;
        await Task.Delay(left < TimeSpan.FromSeconds(15) ? left : TimeSpan.FromSeconds(15));
        var inserted = await database.ScalarAsAdminAsync<long>("select count(*) from bench.run_events where op = 'insert'");
        var one = double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        loads?.Add(one);
        Console.WriteLine($"  {DateTime.UtcNow:HH:mm:ss} {phase}: {inserted} runs stored so far; {Load()}");
    }
}

static async Task<long> TakeUpsSinceAsync(TestDatabase database, string app, DateTimeOffset since)
{
    await using var conn = new NpgsqlConnection(database.AdminConnectionString);
    await conn.OpenAsync();
    await using var cmd = new NpgsqlCommand("select count(*) from bench.run_events where op = 'update' and app = @app and at >= @since", conn);
    cmd.Parameters.AddWithValue("app", app);
    cmd.Parameters.AddWithValue("since", since);
    return (long)(await cmd.ExecuteScalarAsync())!;
}

static async Task<List<string>> SchedulerInstancesAsync(TestDatabase database)
{
    var list = new List<string>();
    await using var conn = new NpgsqlConnection(database.AdminConnectionString);
    await conn.OpenAsync();
    await using var cmd = new NpgsqlCommand("select instance_name from quartz.qrtz_scheduler_state", conn);
    await using var reader = await cmd.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        list.Add(reader.GetString(0));
    }
    return list;
}

static async Task<string> FiredTriggersAsync(TestDatabase database, Dictionary<string, string> instances)
{
    var parts = new List<string>();
    await using var conn = new NpgsqlConnection(database.AdminConnectionString);
    await conn.OpenAsync();
    await using var cmd = new NpgsqlCommand("select instance_name, state, count(*) from quartz.qrtz_fired_triggers group by 1, 2 order by 1, 2", conn);
    await using var reader = await cmd.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        parts.Add($"{instances.GetValueOrDefault(reader.GetString(0), reader.GetString(0))} {reader.GetString(1)} {reader.GetInt64(2)}");
    }
    return parts.Count == 0 ? "none" : string.Join(", ", parts);
}

// Records, in the benchmark's database only, which process inserted each run and which took it up: the trigger runs
// as its owner (the superuser that made it), so the tenant roles need no right on schema bench.
static async Task InstallRunRecorderAsync(TestDatabase database, IEnumerable<string> schemas)
{
    await database.ExecuteAsAdminAsync("""
        create schema bench;
        create table bench.run_events (run_id uuid not null, tenant text not null, op text not null, app text not null, node text, attempts int not null,
            at timestamptz not null default clock_timestamp());
        create function bench.record_run() returns trigger language plpgsql security definer set search_path = pg_catalog as $$
        begin
            insert into bench.run_events (run_id, tenant, op, app, node, attempts)
            values (new.id, tg_table_schema, lower(tg_op), current_setting('application_name'), new.node, new.attempts);
            return null;
        end $$;
        """);
    var sql = new System.Text.StringBuilder();
    foreach (var schema in schemas)
    {
        var s = TenantSchemaName.Parse(schema).Value;
        sql.Append(CultureInfo.InvariantCulture, $"create trigger bench_insert after insert on \"{s}\".workflow_runs for each row execute function bench.record_run();\n");
        sql.Append(CultureInfo.InvariantCulture, $"create trigger bench_take_up after update on \"{s}\".workflow_runs for each row when (old.attempts is distinct from new.attempts) execute function bench.record_run();\n");
    }
    await database.ExecuteAsAdminAsync(sql.ToString());
}

static async Task<List<RunRow>> RunsAsync(TestDatabase database, IEnumerable<string> schemas)
{
    var list = new List<RunRow>();
    await using var conn = new NpgsqlConnection(database.AdminConnectionString);
    await conn.OpenAsync();
    foreach (var schema in schemas)
    {
        var s = TenantSchemaName.Parse(schema).Value;
        await using var cmd = new NpgsqlCommand(
            $"select id, workflow_id, trigger, trigger_key, status, created_at, started_at, ended_at, attempts, node from \"{s}\".workflow_runs", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            list.Add(new RunRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7), reader.GetInt32(8), reader.IsDBNull(9) ? null : reader.GetString(9)));
        }
    }
    return list;
}

static async Task<List<RunEvent>> RunEventsAsync(TestDatabase database)
{
    var list = new List<RunEvent>();
    await using var conn = new NpgsqlConnection(database.AdminConnectionString);
    await conn.OpenAsync();
    await using var cmd = new NpgsqlCommand("select run_id, op, app, node, attempts, at from bench.run_events", conn);
    await using var reader = await cmd.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        list.Add(new RunEvent(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetInt32(4),
            reader.GetFieldValue<DateTimeOffset>(5)));
    }
    return list;
}

static ServiceProvider SetupServices(string connectionString, string masterKey, string mailFolder)
{
    var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["ConnectionStrings:Default"] = connectionString,
        ["Email:PickupDirectory"] = mailFolder,
        ["App:PublicBaseUrl"] = "https://bench.test",
        ["Vault:MasterKey"] = masterKey,
        // This process only writes schedules into the store; the two App.dll processes fire them.
        ["Workflows:Scheduler:Enabled"] = "false",
        ["Tenancy:RateLimits:OrganizationsPerUser"] = "100000",
        ["Tenancy:RateLimits:OrganizationsPerIp"] = "100000",
    }).Build();
    var services = new ServiceCollection()
        .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning).AddConsole())
        .AddSingleton<IConfiguration>(configuration)
        .AddSingleton<IHostEnvironment>(new BenchEnvironment());
    services.AddAppFeatures(configuration);
    return services.BuildServiceProvider();
}

static async Task<Actor> NewUserAsync(IServiceProvider services, string email)
{
    var factory = services.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
    await using var db = await factory.CreateDbContextAsync();
    var user = AppUser.Create(email, DateTimeOffset.UtcNow);
    db.Users.Add(user);
    await db.SaveChangesAsync();
    return new Actor(user.Id, user.Email!, "203.0.113.7");
}

static string Load() => "load average " + string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

static (long Busy, long Total) MachineCpu()
{
    var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
    var idle = fields[3] + fields[4];
    var total = fields.Take(8).Sum();
    return (total - idle, total);
}

static string MachineBusy((long Busy, long Total) before, (long Busy, long Total) after)
{
    var busy = (double)(after.Busy - before.Busy) / Math.Max(1, after.Total - before.Total);
    return string.Create(CultureInfo.InvariantCulture, $"{busy * Environment.ProcessorCount:F2}");
}

static string Pct(TimeSpan cpu, double seconds) => string.Create(CultureInfo.InvariantCulture, $"{cpu.TotalSeconds / seconds * 100:F0}%");

static string CpuModel() => File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";

static string MemTotal()
{
    var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
    return line is null ? "memory unknown" : $"{long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024 / 1024} GiB";
}

static string Git()
{
    try
    {
        using var git = Process.Start(new ProcessStartInfo("git", "log -1 --format=%h") { RedirectStandardOutput = true, WorkingDirectory = TestDatabase.RepoRoot() });
        var commit = git!.StandardOutput.ReadToEnd().Trim();
        git.WaitForExit();
        using var status = Process.Start(new ProcessStartInfo("git", "status --porcelain --untracked-files=no") { RedirectStandardOutput = true, WorkingDirectory = TestDatabase.RepoRoot() });
        var changed = status!.StandardOutput.ReadToEnd().Trim().Length > 0;
        status.WaitForExit();
        return $"commit {commit}{(changed ? " with uncommitted changes" : "")}";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "commit unknown";
    }
}

static int ArgValue(string name, int fallback)
{
    var args = Environment.GetCommandLineArgs();
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

static string ArgString(string name, string fallback)
{
    var args = Environment.GetCommandLineArgs();
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static List<string> ArgValues(string name)
{
    var args = Environment.GetCommandLineArgs();
    var list = new List<string>();
    for (var i = 0; i + 1 < args.Length; i++)
    {
        if (args[i] == name)
        {
            list.Add(args[i + 1]);
        }
    }
    return list;
}

internal sealed record RunRow(Guid Id, Guid WorkflowId, string Trigger, string? TriggerKey, string Status, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt, int Attempts, string? Node);

internal sealed record RunEvent(Guid RunId, string Op, string App, string? Node, int Attempts, DateTimeOffset At);

internal sealed record Firing(RunRow Run, DateTimeOffset Slot, bool OnGrid, string FiredBy, string RanBy);

internal sealed record Result(int Expected, int Missed, int Doubles, List<Firing> InWindow, List<string> Lines, string Label);

internal sealed class BenchEnvironment : IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Benchmark";
    public string ApplicationName { get; set; } = "App";
    public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}
