using System.ClientModel;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AgentSpace.Bench;
using AgentSpace.Boardroom;
using AgentSpace.Tests.Boardroom;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenAI;

// The boardroom's orchestration overhead per model call, on a fresh database of the local cluster (scripts/postgres.sh),
// against the recording model server (a real OpenAI-protocol HTTP server on 127.0.0.1, in this process) answering at
// once. A session of M members and a chair, round-robin, sealed, R rounds: R*M member turns, R syntheses (every one
// says "CONSENSUS: no", so all rounds run) and the decision record. Each session runs through the real
// BoardroomService.StartAsync and the engine with the app's cost guard, usage ledger and audit, and ends when
// LiveBoardrooms.Find(id).Ended completes. The baseline replays the requests of the latest app session, one after
// another, with the OpenAI SDK's streaming IChatClient against the same server; app and direct sessions alternate and
// the order flips each pair. A turn is the time between the server receiving one call of a session and the next.
// A last, untimed pass counts the database commands and transactions of each turn, and the cost guard's state query
// is run under EXPLAIN ANALYZE on the tables the run filled.
var sessions = ArgValue("--sessions", 30);
var warmup = ArgValue("--warmup", 60);
var maxWarmup = Math.Max(warmup, ArgValue("--max-warmup", 300));
var rounds = ArgValue("--rounds", 3);
var members = ArgValue("--members", 3);
var counted = ArgValue("--counted", 3);
var calls = rounds * members + rounds + 1;
var inv = CultureInfo.InvariantCulture;
string Load() => "load average " + string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

await using var database = await TestDatabase.CreateAsync();
await using var server = await RecordingModelServer.StartAsync();
var masterKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
await using var services = await BenchServices.StartAsync(database.AppConnectionString, masterKey);
var world = await BoardWorld.CreateAsync(services.Provider, server, members);
var live = services.Provider.GetRequiredService<LiveBoardrooms>();
var direct = new OpenAIClient(new ApiKeyCredential(server.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl) })
    .GetChatClient(BoardWorld.Model).AsIChatClient();

var machine = $"{Environment.ProcessorCount} cores (nproc), {MemTotal()}, {Environment.OSVersion}, .NET {Environment.Version}, server GC {System.Runtime.GCSettings.IsServerGC}; " +
    $"PostgreSQL {await database.ScalarAsAdminAsync<string>("show server_version")} on 127.0.0.1 (scripts/postgres.sh), fsync {await database.ScalarAsAdminAsync<string>("show fsync")}; " +
    $"recording model server on 127.0.0.1 in the same process; {Git()}";
var report = new List<string>
{
    $"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}; machine: {machine}",
    $"sessions: {members} members + chair, round-robin, sealed, {rounds} rounds = {calls} model calls each ({rounds * members} member turns, {rounds} syntheses, 1 record)",
};
Console.WriteLine(string.Join('\n', report));

// The script: instant, short, streamed in 4 pieces; the synthesis never declares consensus so every round runs.
var memberReply = new ScriptedReply { Text = "Lisbon lowers rent and widens hiring; the move pays back within two years [1].\nPOSITION: agree\nCONFIDENCE: 0.7" };
var synthesisReply = new ScriptedReply { Text = "Members lean towards the move but want a cost ceiling. Proposal: move in Q3 under a fixed budget.\nCONSENSUS: no" };
var recordReply = new ScriptedReply { Text = BoardroomScript.RecordJson("Move the head office to Lisbon in Q3 under a fixed budget."), Chunks = 8 };
var arrivals = new ConcurrentQueue<Arrival>();
server.RespondWith(request =>
{
    var at = Stopwatch.GetTimestamp();
    var kind = BoardroomScript.KindOf(request);
    arrivals.Enqueue(new Arrival(at, kind));
    return kind switch
    {
        BoardroomCall.Record => recordReply,
        BoardroomCall.Synthesis => synthesisReply,
        _ => memberReply,
    };
});

List<ReplayCall> replay = [];
// Tiered compilation goes on recompiling the hot paths for many sessions (after 3 warm-up pairs the JIT still took a
// sixth of this process's CPU samples; here about 70 pairs pass before it is done), so the warm-up lasts at least
// --warmup pairs and then until 10 pairs in a row cost the JIT less than 50 ms, or --max-warmup pairs have run.
var jitMark = System.Runtime.JitInfo.GetCompilationTime();
var warmupDone = 0;
Console.WriteLine($"warm-up: at least {warmup} pairs, until the JIT is done (at most {maxWarmup})...");
while (true)
{
    await PairAsync(warmupDone++);
    if (warmupDone % 10 == 0)
    {
        var jitted = System.Runtime.JitInfo.GetCompilationTime();
        var recent = (jitted - jitMark).TotalMilliseconds;
        jitMark = jitted;
        Console.WriteLine($"  {warmupDone} pairs ({Load()}; JIT {F(recent)} ms in the last 10)");
        if ((warmupDone >= warmup && recent < 50) || warmupDone >= maxWarmup)
        {
            break;
        }
    }
}
var loadBefore = Load();
var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
var appRuns = new List<AppRun>();
var directRuns = new List<DirectRun>();
Console.WriteLine($"{sessions} measured pairs...");
for (var i = 0; i < sessions; i++)
{
    var (a, d) = await PairAsync(warmupDone + i);
    appRuns.Add(a);
    directRuns.Add(d);
}
var jitDuring = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
var loadAfter = Load();

var appTurns = appRuns.SelectMany(r => r.Gaps).ToList();
var directTurns = directRuns.SelectMany(r => r.Gaps).ToList();
var appWall = appRuns.Select(r => Ms(r.Start, r.End) / calls).ToList();
var directWall = directRuns.Select(r => Ms(r.Start, r.End) / calls).ToList();
report.Add($"{warmupDone} warm-up pairs (until the JIT was done), then {sessions} measured sessions each way, interleaved (order flips each pair); " +
    $"JIT time during the measured pairs {F(jitDuring)} ms");
report.Add($"[1] per turn (server receipt of a call to the receipt of the session's next call; {appTurns.Count} turns each way; {loadBefore} before, {loadAfter} after):");
report.Add($"  direct (OpenAI SDK IChatClient, streaming, the app's requests replayed): median {F(Median(directTurns))} ms, p95 {F(P95(directTurns))} ms");
report.Add($"  through the boardroom engine: median {F(Median(appTurns))} ms, p95 {F(P95(appTurns))} ms");
report.Add($"  overhead per turn: median +{F(Median(appTurns) - Median(directTurns))} ms (ratio {Ratio(Median(appTurns), Median(directTurns))}), p95 +{F(P95(appTurns) - P95(directTurns))} ms (ratio {Ratio(P95(appTurns), P95(directTurns))})");
report.Add($"  session wall time / {calls} calls: direct median {F(Median(directWall))} ms, p95 {F(P95(directWall))} ms; app (StartAsync to Ended) median {F(Median(appWall))} ms, p95 {F(P95(appWall))} ms; " +
    $"overhead median +{F(Median(appWall) - Median(directWall))} ms (ratio {Ratio(Median(appWall), Median(directWall))})");
var appSessionMs = appRuns.Select(r => Ms(r.Start, r.End)).ToList();
var directSessionMs = directRuns.Select(r => Ms(r.Start, r.End)).ToList();
report.Add($"  whole session: direct median {F(Median(directSessionMs))} ms, app median {F(Median(appSessionMs))} ms, p95 {F(P95(appSessionMs))} ms");
// Whether the time is this process's own work or waiting (mostly on PostgreSQL, a process of its own).
report.Add($"  CPU time of this process per call (app and server side, all threads): direct median {F(Median(directRuns.Select(r => r.CpuMs / calls)))} ms, " +
    $"app median {F(Median(appRuns.Select(r => r.CpuMs / calls)))} ms");
report.Add($"  CPU time of PostgreSQL (the backends serving this database, 10 ms ticks, summed over the sessions) per call: during direct sessions {F(directRuns.Sum(r => r.PostgresMs) / (directRuns.Count * calls))} ms, " +
    $"during app sessions {F(appRuns.Sum(r => r.PostgresMs) / (appRuns.Count * calls))} ms");

report.Add("[1b] per turn by the kind of the next call (median / p95 ms, direct -> app, overhead of the medians):");
foreach (var kind in new[] { BoardroomCall.Member, BoardroomCall.Synthesis, BoardroomCall.Record })
{
    var app = appRuns.SelectMany(r => r.GapsBefore(kind)).ToList();
    var dir = directRuns.SelectMany(r => r.GapsBefore(kind)).ToList();
    if (app.Count > 0 && dir.Count > 0)
    {
        report.Add($"  before a {kind.ToString().ToLowerInvariant()} call (n = {app.Count}): {F(Median(dir))} / {F(P95(dir))} -> {F(Median(app))} / {F(P95(app))}, +{F(Median(app) - Median(dir))} ms");
    }
}

// Where a turn's time goes, at the moments the live session reports: a turn opens (written as streaming) and closes.
var parts = appRuns.SelectMany(r => r.Parts()).ToList();
var directStream = directRuns.SelectMany(r => r.StreamTimes()).ToList();
var directClient = directRuns.SelectMany(r => r.ClientTimes()).ToList();
report.Add($"[2] one turn through the engine, in parts ({parts.Count} turns with every mark; median / p95 ms):");
report.Add($"  answer streamed, usage recorded, turn row finished and audited (receipt -> turn closed): {F(Median(parts.Select(p => p.Close)))} / {F(P95(parts.Select(p => p.Close)))}" +
    $"; direct, receipt -> stream ended: {F(Median(directStream))} / {F(P95(directStream))}");
report.Add($"  next turn prepared: notes read, prompt and its token count, cost guard call check with reservation, turn check and turn row (turn closed -> next turn open): {F(Median(parts.Select(p => p.Prepare)))} / {F(P95(parts.Select(p => p.Prepare)))}");
report.Add($"  connection (kept per participant for the run) and the HTTP request (next turn open -> receipt): {F(Median(parts.Select(p => p.Send)))} / {F(P95(parts.Select(p => p.Send)))}" +
    $"; direct, stream ended -> next receipt: {F(Median(directClient))} / {F(P95(directClient))}");
var stored = appRuns.Select(r => Ms(r.Start, r.Returned)).ToList();
var first = appRuns.Where(r => r.FirstOpen > 0).Select(r => Ms(r.Returned, r.FirstOpen)).ToList();
var firstSend = appRuns.Where(r => r.FirstOpen > 0).Select(r => Ms(r.FirstOpen, r.Arrivals[0].At)).ToList();
var finalize = appRuns.Where(r => r.LastClose > 0).Select(r => Ms(r.LastClose, r.End)).ToList();
report.Add($"  session start: StartAsync (validate, store session and seats, audit) {F(Median(stored))} / {F(P95(stored))}; " +
    $"-> first turn open (load session and routes, passages for {members + 1} participants, first turn's checks) {F(Median(first))} / {F(P95(first))}; " +
    $"-> first receipt {F(Median(firstSend))} / {F(P95(firstSend))}");
report.Add($"  session end: record turn closed -> Ended (record stored and linked, session ended, audited): {F(Median(finalize))} / {F(P95(finalize))}");

// Growth with history: the ledger, the audit chain and the turn table grow with every session of the run.
var third = Math.Max(1, appRuns.Count / 3);
var early = appRuns.Take(third).SelectMany(r => r.Gaps).ToList();
var late = appRuns.Skip(appRuns.Count - third).SelectMany(r => r.Gaps).ToList();
var earlyDirect = directRuns.Take(third).SelectMany(r => r.Gaps).ToList();
var lateDirect = directRuns.Skip(directRuns.Count - third).SelectMany(r => r.Gaps).ToList();
report.Add($"[3] drift over the run: app per-turn median, first {third} sessions {F(Median(early))} ms, last {third} {F(Median(late))} ms " +
    $"(direct {F(Median(earlyDirect))} -> {F(Median(lateDirect))} ms)");
Console.WriteLine(string.Join('\n', report.Skip(2)));

// 4. Database work per turn: a few more sessions with the counters listening (not timed).
var shownFrom = report.Count;
if (counted > 0)
{
    Console.WriteLine($"Counting database work over {counted} sessions...");
    var countedRuns = new List<(AppRun Run, IReadOnlyList<DbEvent> Events)>();
    IReadOnlyDictionary<string, string> texts;
    using (var counter = new DbCounter())
    {
        for (var i = 0; i < counted; i++)
        {
            counter.Clear();
            var run = await AppSessionAsync(warmupDone + sessions + i, counter);
            countedRuns.Add((run, counter.Events));
        }
        texts = counter.FullTexts.ToDictionary();
    }
    report.AddRange(DbReport(countedRuns));
    report.AddRange(await GuardPlanAsync(texts, countedRuns[^1].Run.Id, warmupDone + sessions + counted));
}
else
{
    report.Add("[4] database work: not counted in this run (--counted 0).");
}
Console.WriteLine(string.Join('\n', report.Skip(shownFrom)));

var text = string.Join('\n', report);
var results = Path.Combine(TestDatabase.RepoRoot(), "bench", "results");
Directory.CreateDirectory(results);
await File.WriteAllTextAsync(Path.Combine(results, "boardroom-latest.txt"), text + "\n");
Console.WriteLine($"Written to {Path.Combine(results, "boardroom-latest.txt")}");
return 0;

// One app session and one direct session, in an order that flips with the index; the first pair starts with the app,
// since the direct side replays what the app last sent.
async Task<(AppRun App, DirectRun Direct)> PairAsync(int index)
{
    if (index % 2 == 0 || replay.Count == 0)
    {
        var a = await AppSessionAsync(index, null);
        replay = a.Replay;
        return (a, await DirectSessionAsync(replay));
    }
    var d = await DirectSessionAsync(replay);
    var app = await AppSessionAsync(index, null);
    replay = app.Replay;
    return (app, d);
}

async Task<AppRun> AppSessionAsync(int index, DbCounter? counter)
{
    arrivals.Clear();
    server.ClearRecorded();
    var marks = new ConcurrentQueue<TurnMark>();
    await using var scope = services.Provider.CreateAsyncScope();
    var boardroom = scope.ServiceProvider.GetRequiredService<BoardroomService>();
    counter?.Track();
    var pg = PostgresCpuMs();
    var cpu = Environment.CpuUsage.TotalTime;
    var start = Stopwatch.GetTimestamp();
    var id = await boardroom.StartAsync(world.Owner, world.Org.Slug, world.Input(index, rounds), default);
    var returned = Stopwatch.GetTimestamp();
    // The run starts in the background before StartAsync returns; its first turn opens milliseconds later.
    var running = live.Find(id) ?? throw new InvalidOperationException("The session ended before it could be watched.");
    running.Changed += () => marks.Enqueue(new TurnMark(Stopwatch.GetTimestamp(), running.Speaking?.TurnId));
    await running.Ended.WaitAsync(TimeSpan.FromMinutes(2));
    var end = Stopwatch.GetTimestamp();
    var cpuMs = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds;
    var pgMs = PostgresCpuMs() - pg;
    var got = arrivals.ToList();
    var view = await boardroom.OpenAsync(world.Owner, world.Org.Slug, id, default);
    if (view.Session.Status != SessionStatus.Ended || view.Session.StopReason != StopReasons.MaxRounds || view.Session.DecisionId is null || got.Count != calls)
    {
        throw new InvalidOperationException($"Session {index} ended {view.Session.Status} ({view.Session.StopReason}: {view.Session.StopDetail}) after {got.Count} of {calls} calls.");
    }
    return new AppRun(id, start, returned, end, cpuMs, pgMs, got, [.. marks], [.. server.ChatRequests.Select(ReplayCall.From)]);
}

async Task<DirectRun> DirectSessionAsync(IReadOnlyList<ReplayCall> replayed)
{
    arrivals.Clear();
    server.ClearRecorded();
    var ends = new List<long>(replayed.Count);
    var pg = PostgresCpuMs();
    var cpu = Environment.CpuUsage.TotalTime;
    var start = Stopwatch.GetTimestamp();
    foreach (var call in replayed)
    {
        // What any caller that shows the answer keeps: the text so far.
        var answer = new StringBuilder();
        await foreach (var update in direct.GetStreamingResponseAsync(call.Messages, call.Options))
        {
            answer.Append(update.Text);
        }
        ends.Add(Stopwatch.GetTimestamp());
        if (answer.Length == 0)
        {
            throw new InvalidOperationException("The direct stream carried no text.");
        }
    }
    var end = Stopwatch.GetTimestamp();
    var cpuMs = (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds;
    return new DirectRun(start, end, cpuMs, PostgresCpuMs() - pg, [.. arrivals], ends);
}

List<string> DbReport(List<(AppRun Run, IReadOnlyList<DbEvent> Events)> countedRuns)
{
    var lines = new List<string>();
    var commandsPerTurn = new List<double>();
    var commitsPerTurn = new List<double>();
    foreach (var (run, events) in countedRuns)
    {
        for (var k = 0; k + 1 < run.Arrivals.Count; k++)
        {
            var inGap = events.Where(e => e.At > run.Arrivals[k].At && e.At < run.Arrivals[k + 1].At).ToList();
            commandsPerTurn.Add(inGap.Count(IsCommand));
            commitsPerTurn.Add(inGap.Count(IsTxEnd));
        }
    }
    var setupEvents = countedRuns.Select(c => c.Events.Where(e => e.At < c.Run.Arrivals[0].At).ToList()).ToList();
    var endEvents = countedRuns.Select(c => c.Events.Where(e => e.At > c.Run.Arrivals[^1].At).ToList()).ToList();
    var totalCommands = countedRuns.Sum(c => c.Events.Count(IsCommand));
    var totalCommits = countedRuns.Sum(c => c.Events.Count(IsTxEnd));
    lines.Add($"[4] database work ({countedRuns.Count} sessions counted, untimed; commands = statements Npgsql sent, each one round trip; " +
        "transactions = EF Core units of work ended, each one more round trip for its commit; lookups outside a transaction are commands only):");
    lines.Add($"  per turn: {F0(Median(commandsPerTurn))} commands (min {F0(commandsPerTurn.Min())}, max {F0(commandsPerTurn.Max())}) and {F0(Median(commitsPerTurn))} transactions " +
        $"(min {F0(commitsPerTurn.Min())}, max {F0(commitsPerTurn.Max())}): about {F0(Median(commandsPerTurn) + Median(commitsPerTurn))} round trips");
    lines.Add($"  per session: {F0((double)totalCommands / countedRuns.Count)} commands, {F0((double)totalCommits / countedRuns.Count)} transactions; " +
        $"before the first call {F0(setupEvents.Average(e => e.Count(IsCommand)))} commands / {F0(setupEvents.Average(e => e.Count(IsTxEnd)))} transactions, " +
        $"after the last {F0(endEvents.Average(e => e.Count(IsCommand)))} / {F0(endEvents.Average(e => e.Count(IsTxEnd)))}; " +
        $"physical connections opened: {countedRuns.Sum(c => c.Events.Count(e => e.Kind == DbEventKind.Connect))}");
    // The statements of one steady member turn: round 2 (connections kept), between the second and third member's calls.
    var sample = rounds >= 2 && members >= 3 ? members + 2 : 1;
    var (sampleRun, sampleEvents) = countedRuns[0];
    var sampled = sampleEvents.Where(e => e.At > sampleRun.Arrivals[sample - 1].At && e.At < sampleRun.Arrivals[sample].At).ToList();
    // Each statement's time (sent to done, as Npgsql's activity measures it): the median over every turn of the counted sessions.
    var times = countedRuns.SelectMany(c => c.Events.Where(e => IsCommand(e) && e.At > c.Run.Arrivals[0].At && e.At < c.Run.Arrivals[^1].At))
        .GroupBy(e => e.What).ToDictionary(g => g.Key, g => Median(g.Select(e => e.Ms)));
    lines.Add($"  the {sampled.Count} statements between call {sample} and call {sample + 1} of a session (a member's answer to the next member's call), in order, " +
        "with the median time of each from sent to done over all counted turns:");
    lines.AddRange(sampled.Select(e => IsTxEnd(e) ? "              " + e.What : $"    {F(times.GetValueOrDefault(e.What, e.Ms)),6} ms  {e.What}"));
    lines.Add($"  before the first call of that session ({setupEvents[0].Count} statements), by statement, most frequent first:");
    lines.AddRange(setupEvents[0].GroupBy(e => e.What).OrderByDescending(g => g.Count()).Select(g => $"    {g.Count()} x {g.Key}"));
    return lines;
}

// utime + stime of the PostgreSQL backends serving this benchmark's database (their process title names it), in
// milliseconds (clock ticks of 10 ms, USER_HZ 100 on Linux). Other work on the shared cluster is not counted.
double PostgresCpuMs()
{
    long ticks = 0;
    foreach (var dir in Directory.EnumerateDirectories("/proc"))
    {
        if (!char.IsAsciiDigit(Path.GetFileName(dir)[0]))
        {
            continue;
        }
        try
        {
            if (!File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(" " + database.Name + " ", StringComparison.Ordinal))
            {
                continue;
            }
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var close = stat.LastIndexOf(')');
            if (stat.AsSpan(stat.IndexOf('(') + 1, close - stat.IndexOf('(') - 1).SequenceEqual("postgres"))
            {
                // After "pid (comm) ": state is field 3, utime 14, stime 15.
                var fields = stat[(close + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process ended while it was being read, or is not ours to read.
        }
    }
    return ticks * 10.0;
}

// The cost guard's state query (three times a turn) as PostgreSQL runs it on the tables this run has filled.
async Task<List<string>> GuardPlanAsync(IReadOnlyDictionary<string, string> texts, Guid runId, int sessionsSoFar)
{
    var sql = texts.Values.FirstOrDefault(t => t.Contains("from usage_records where run_id = @run", StringComparison.Ordinal));
    if (sql is null)
    {
        return ["[5] the cost guard's state query was not seen; its plan is not shown."];
    }
    // Without the tenant scope in front (the search path is set below).
    if (sql.StartsWith("SET LOCAL ROLE", StringComparison.Ordinal))
    {
        sql = sql[(sql.IndexOf("extensions;", StringComparison.Ordinal) + "extensions;".Length)..];
    }
    var schema = await database.ScalarAsAdminAsync<string>($"select schema_name from platform.organizations where id = '{world.Org.Id}'")
        ?? throw new InvalidOperationException("The organization's schema was not found.");
    await using var conn = new NpgsqlConnection(database.AdminConnectionString);
    await conn.OpenAsync();
    await using (var set = new NpgsqlCommand($"set search_path = \"{schema}\", extensions", conn))
    {
        await set.ExecuteNonQueryAsync();
    }
    long usage, turns, audit;
    await using (var count = new NpgsqlCommand("select (select count(*) from usage_records), (select count(*) from boardroom_turns), (select count(*) from audit_events)", conn))
    await using (var reader = await count.ExecuteReaderAsync())
    {
        await reader.ReadAsync();
        (usage, turns, audit) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }
    var now = DateTime.UtcNow;
    var plan = new List<string>();
    for (var pass = 0; pass < 2; pass++)
    {
        plan.Clear();
        await using var explain = new NpgsqlCommand("explain (analyze, costs off) " + sql, conn);
        explain.Parameters.AddWithValue("run", runId);
        explain.Parameters.AddWithValue("agent", world.MemberIds[0]);
        explain.Parameters.AddWithValue("day", now.Date);
        explain.Parameters.AddWithValue("month", new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc));
        explain.Parameters.AddWithValue("live", now - TimeSpan.FromMinutes(15));
        await using var reader = await explain.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add("    " + reader.GetString(0));
        }
    }
    return [$"[5] the cost guard's state query (run three times a turn: call check, turn check, usage record) after {sessionsSoFar} sessions " +
        $"({usage:N0} usage records, {turns:N0} boardroom turns, {audit:N0} audit events in the tenant), EXPLAIN ANALYZE as the superuser (second run):", .. plan];
}

static bool IsTxEnd(DbEvent e) => e.Kind == DbEventKind.TransactionEnd;

static bool IsCommand(DbEvent e) => e.Kind == DbEventKind.Command;

static string MemTotal() =>
    File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } line
        ? (long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0 / 1024.0).ToString("F0", CultureInfo.InvariantCulture) + " GiB"
        : "memory unknown";

static string Git()
{
    try
    {
        string Run(string arguments)
        {
            using var git = Process.Start(new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, WorkingDirectory = TestDatabase.RepoRoot() })!;
            var output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            return output.Trim();
        }
        var changed = Run("status --porcelain -- App").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        return $"main at {Run("rev-parse --short HEAD")}" + (changed > 0 ? $" with {changed} uncommitted changes under App/" : "");
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "commit unknown";
    }
}

string F(double ms) => ms.ToString("F2", inv);

string F0(double n) => n.ToString("F1", inv);

string Ratio(double a, double b) => (a / b).ToString("F2", inv) + "x";

static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

static double Median(IEnumerable<double> xs) => Percentile(xs, 0.5);

static double P95(IEnumerable<double> xs) => Percentile(xs, 0.95);

static double Percentile(IEnumerable<double> xs, double p)
{
    var sorted = xs.Order().ToList();
    return sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Round(p * (sorted.Count - 1)))];
}

int ArgValue(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

namespace AgentSpace.Bench
{
    /// <summary>The server received a call of this kind at this moment (after reading its body).</summary>
    internal sealed record Arrival(long At, BoardroomCall Kind);

    /// <summary>The live session changed: a turn is open (its id), or none is (null).</summary>
    internal sealed record TurnMark(long At, Guid? TurnId);

    /// <summary>One turn's time between two receipts, split where the engine reports.</summary>
    internal sealed record TurnParts(double Close, double Prepare, double Send);

    /// <summary>A request the engine sent, as the direct side sends it again: the same messages and options.</summary>
    internal sealed record ReplayCall(List<ChatMessage> Messages, ChatOptions Options)
    {
        public static ReplayCall From(RecordedRequest request)
        {
            var json = request.Json ?? throw new InvalidOperationException("A chat request without a body.");
            var messages = new List<ChatMessage>();
            foreach (var message in json["messages"]?.AsArray() ?? [])
            {
                var role = message?["role"]?.GetValue<string>() switch
                {
                    "system" or "developer" => ChatRole.System,
                    "assistant" => ChatRole.Assistant,
                    _ => ChatRole.User,
                };
                var content = message?["content"];
                var text = content is JsonValue value ? value.GetValue<string>()
                    : string.Concat((content?.AsArray() ?? []).Select(part => part?["text"]?.GetValue<string>()));
                messages.Add(new ChatMessage(role, text));
            }
            var limit = json["max_completion_tokens"] ?? json["max_tokens"];
            return new ReplayCall(messages, new ChatOptions
            {
                MaxOutputTokens = limit?.GetValue<int>(),
                Temperature = json["temperature"]?.GetValue<float>(),
            });
        }
    }

    internal sealed record AppRun(Guid Id, long Start, long Returned, long End, double CpuMs, double PostgresMs, IReadOnlyList<Arrival> Arrivals, IReadOnlyList<TurnMark> Marks, List<ReplayCall> Replay)
    {
        public IEnumerable<double> Gaps => Arrivals.Zip(Arrivals.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a.At, b.At).TotalMilliseconds);

        public IEnumerable<double> GapsBefore(BoardroomCall kind) =>
            Arrivals.Zip(Arrivals.Skip(1)).Where(p => p.Second.Kind == kind).Select(p => Stopwatch.GetElapsedTime(p.First.At, p.Second.At).TotalMilliseconds);

        /// <summary>When each turn opened, in order (the first mark that names it).</summary>
        private List<long> Opens => [.. Marks.Where(m => m.TurnId is not null).GroupBy(m => m.TurnId).Select(g => g.First().At).Order()];

        public long FirstOpen => Opens.FirstOrDefault();

        /// <summary>When the record turn closed: the first "no turn open" after the last call reached the server.</summary>
        public long LastClose => Marks.FirstOrDefault(m => m.TurnId is null && m.At > Arrivals[^1].At)?.At ?? 0;

        public IEnumerable<TurnParts> Parts()
        {
            var opens = Opens;
            for (var k = 0; k + 1 < Arrivals.Count; k++)
            {
                var receipt = Arrivals[k].At;
                var next = Arrivals[k + 1].At;
                var close = Marks.FirstOrDefault(m => m.TurnId is null && m.At > receipt && m.At < next)?.At;
                var open = opens.FirstOrDefault(o => o > (close ?? long.MaxValue) && o < next);
                if (close is { } c && open > 0)
                {
                    yield return new TurnParts(Ms(receipt, c), Ms(c, open), Ms(open, next));
                }
            }
        }

        private static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
    }

    internal sealed record DirectRun(long Start, long End, double CpuMs, double PostgresMs, IReadOnlyList<Arrival> Arrivals, IReadOnlyList<long> StreamEnds)
    {
        public IEnumerable<double> Gaps => Arrivals.Zip(Arrivals.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a.At, b.At).TotalMilliseconds);

        public IEnumerable<double> GapsBefore(BoardroomCall kind) =>
            Arrivals.Zip(Arrivals.Skip(1)).Where(p => p.Second.Kind == kind).Select(p => Stopwatch.GetElapsedTime(p.First.At, p.Second.At).TotalMilliseconds);

        public IEnumerable<double> StreamTimes() => Arrivals.Zip(StreamEnds, (a, e) => Stopwatch.GetElapsedTime(a.At, e).TotalMilliseconds);

        public IEnumerable<double> ClientTimes() => StreamEnds.Zip(Arrivals.Skip(1), (e, a) => Stopwatch.GetElapsedTime(e, a.At).TotalMilliseconds);
    }
}
