using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using AgentSpace;
using AgentSpace.Agents;
using AgentSpace.Bench;
using AgentSpace.Chat;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using OpenAI;

// Chat benchmarks on a fresh database of the local cluster (scripts/postgres.sh), against the recording
// model server (a real OpenAI-protocol HTTP server on 127.0.0.1, in this process):
//  1. time to first token through the app (ChatEngine.SendAsync with an agent whose provider is the server,
//     every limit and price on) against the OpenAI SDK's IChatClient streaming from the same server,
//     interleaved, after a warm-up; with the app's time split at the moments its LiveTurn reports;
//  2. the steps before the first token, each timed alone;
//  3. 50 chats at once (each its own conversation) against 50 direct streams at once, first-token p95;
//     and managed memory / working set with 50 chats open against none;
//  4. optionally, Blazor circuits: App.dll started as a process, N chat pages opened in Chromium, the
//     app process's resident memory per circuit.
var rounds = ArgValue("--rounds", 300);
var warmup = ArgValue("--warmup", 30);
var concurrent = ArgValue("--concurrent", 50);
var batches = ArgValue("--batches", 6);
var chunks = ArgValue("--chunks", 50);
var chunkDelayMs = ArgValue("--chunk-delay-ms", 20);
var steps = ArgValue("--steps", 300);
var circuits = ArgValue("--circuits", 20);
var inv = CultureInfo.InvariantCulture;
var report = new List<string>
{
    $"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}; machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; " +
    $"server GC: {System.Runtime.GCSettings.IsServerGC}; PostgreSQL on 127.0.0.1 (scripts/postgres.sh); recording model server on 127.0.0.1 in the same process",
};
// The machine is shared: the load average before each part says how much else was running.
string Load() => "load average " + File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Aggregate((a, b) => a + " " + b);

await using var database = await TestDatabase.CreateAsync();
await using var server = await RecordingModelServer.StartAsync();
var masterKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
await using var services = await BenchServices.StartAsync(database.AppConnectionString, masterKey);
var world = await BenchWorld.CreateAsync(services.Provider, server);
var engine = services.Provider.GetRequiredService<ChatEngine>();
var caller = ChatCaller.For(world.Owner);
var direct = new OpenAIClient(new ApiKeyCredential(server.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl) })
    .GetChatClient(BenchWorld.Model).AsIChatClient();
// The same prompt shape and options the engine sends (system prompt, the question, temperature, output allowance).
List<ChatMessage> DirectPrompt(string text) =>
    [new(ChatRole.System, "You answer briefly.\n\n" + UntrustedContent.Rule), new(ChatRole.User, text)];
// The output filter never shows the last N characters of a streaming answer, N = the longest secret the
// organization holds (here the provider's API key): the app can show nothing before more than that has arrived.
HoldBackChars = server.ApiKey.Length;
var directOptions = new ChatOptions { Temperature = 0.7f, MaxOutputTokens = ChatEngine.OutputAllowanceTokens };

// 1. Sequential first-token latency, interleaved (the order alternates each round so drift hits both alike).
var load1 = Load();
Console.WriteLine($"Time to first token, {warmup} warm-up + {rounds} interleaved rounds...");
server.DefaultReply = new ScriptedReply { Text = "A scripted answer for the benchmark, in four pieces.", Chunks = 4 };
var appTimes = new List<AppTiming>(rounds);
var directTimes = new List<double>(rounds);
var directShowable = new List<double>(rounds);
for (var i = 0; i < warmup + rounds; i++)
{
    AppTiming a;
    DirectTiming d;
    if (i % 2 == 0)
    {
        a = await AppTurnAsync(engine, caller, world, $"Question {i}", null, null);
        d = await DirectAsync(direct, DirectPrompt($"Question {i}"), directOptions, null);
    }
    else
    {
        d = await DirectAsync(direct, DirectPrompt($"Question {i}"), directOptions, null);
        a = await AppTurnAsync(engine, caller, world, $"Question {i}", null, null);
    }
    if (i >= warmup)
    {
        appTimes.Add(a);
        directTimes.Add(d.FirstToken);
        directShowable.Add(d.Showable);
    }
    server.ClearRecorded();
}
var appFirst = appTimes.Select(t => t.FirstToken).ToList();
report.Add($"[1] time to first token, sequential, {rounds} interleaved rounds after {warmup} warm-up (a 4-piece answer, no server delay; {load1} before, {Load()} after):");
report.Add($"  direct (OpenAI SDK IChatClient, same server): median {F(Median(directTimes))} ms, p95 {F(P95(directTimes))} ms");
report.Add($"  direct, until more than {HoldBackChars} characters (the output filter's hold-back) had arrived: median {F(Median(directShowable))} ms, p95 {F(P95(directShowable))} ms");
report.Add($"  through the app (ChatEngine.SendAsync), first visible text: median {F(Median(appFirst))} ms, p95 {F(P95(appFirst))} ms");
report.Add($"  overhead against the first piece: median +{F(Median(appFirst) - Median(directTimes))} ms (ratio {(Median(appFirst) / Median(directTimes)).ToString("F2", inv)}x), " +
    $"p95 +{F(P95(appFirst) - P95(directTimes))} ms; target <= 15 ms median: {(Median(appFirst) - Median(directTimes) <= 15 ? "met" : "MISSED")}");
report.Add($"  app, until the turn rows are written (access, then one unit of work: turn check, user + assistant turn, provider row and price, first call's spend check): median {F(Median(appTimes.Select(t => t.RowsWritten)))} ms, p95 {F(P95(appTimes.Select(t => t.RowsWritten)))} ms");
report.Add($"  app, until the provider connection is open (+ vault key and SDK client, kept 60 s): median {F(Median(appTimes.Select(t => t.Connected)))} ms, p95 {F(P95(appTimes.Select(t => t.Connected)))} ms");
report.Add($"  app, connection open -> first token (HTTP, first piece, output filter): median {F(Median(appTimes.Select(t => t.FirstToken - t.Connected)))} ms, p95 {F(P95(appTimes.Select(t => t.FirstToken - t.Connected)))} ms");
report.Add($"  app, whole turn (incl. usage record and final write): median {F(Median(appTimes.Select(t => t.Whole)))} ms, p95 {F(P95(appTimes.Select(t => t.Whole)))} ms");
Console.WriteLine(string.Join('\n', report.Skip(1)));

// 2. Each step before the first token, alone (same services, a fresh scope each, as the engine takes one per send).
Console.WriteLine($"Steps before the first token, {steps} rounds each...");
var stepTimes = await StepsAsync(services.Provider, world, steps);
report.Add($"[2] steps before the first token, each alone, {steps} rounds after 20 warm-up ({Load()} after; median / p95, ms):");
foreach (var (name, times) in stepTimes)
{
    report.Add($"  {name}: {F(Median(times))} / {F(P95(times))}");
}
Console.WriteLine(string.Join('\n', report.Skip(report.Count - stepTimes.Count - 1)));

// 3. Concurrent chats: each batch starts every chat at the same moment; first token is counted from that moment.
var load3 = Load();
Console.WriteLine($"{concurrent} concurrent chats, 1 warm-up + {batches} batches each way...");
server.DefaultReply = new ScriptedReply { Text = PiecesText(chunks), Chunks = chunks, ChunkDelay = TimeSpan.FromMilliseconds(chunkDelayMs) };
var appConcurrent = new List<double>();
var directConcurrent = new List<double>();
var appConcurrentRows = new List<double>();
var directConcurrentShowable = new List<double>();
var maxOpen = 0;
for (var b = 0; b < batches + 1; b++)
{
    var appFirstBatch = b % 2 == 0;
    for (var side = 0; side < 2; side++)
    {
        var runApp = (side == 0) == appFirstBatch;
        var batch = runApp
            ? await AppBatchAsync(concurrent, untilOpen: null)
            : await DirectBatchAsync(concurrent, untilOpen: null);
        maxOpen = Math.Max(maxOpen, batch.MaxOpen);
        if (b == 0)
        {
            continue;
        }
        (runApp ? appConcurrent : directConcurrent).AddRange(batch.FirstTokens);
        if (!runApp)
        {
            directConcurrentShowable.AddRange(batch.Showable);
        }
        if (runApp)
        {
            appConcurrentRows.AddRange(batch.RowsWritten);
        }
    }
    server.ClearRecorded();
}
report.Add($"[3] {concurrent} concurrent streaming chats, {batches} batches each way after 1 warm-up, interleaved ({chunks}-piece answer, {chunkDelayMs} ms before each piece; " +
    $"first token counted from the moment the batch starts; most streams open at once: {maxOpen}; {load3} before, {Load()} after):");
report.Add($"  direct, {concurrent} streams at once: median {F(Median(directConcurrent))} ms, p95 {F(P95(directConcurrent))} ms, max {F(directConcurrent.Max())} ms");
report.Add($"  direct, until more than {HoldBackChars} characters had arrived (the earliest the app may show text): median {F(Median(directConcurrentShowable))} ms, p95 {F(P95(directConcurrentShowable))} ms");
report.Add($"  through the app, {concurrent} sends at once, first visible text: median {F(Median(appConcurrent))} ms, p95 {F(P95(appConcurrent))} ms, max {F(appConcurrent.Max())} ms");
report.Add($"  overhead against the first piece: p95 +{F(P95(appConcurrent) - P95(directConcurrent))} ms, median +{F(Median(appConcurrent) - Median(directConcurrent))} ms; " +
    $"against the hold-back point: p95 +{F(P95(appConcurrent) - P95(directConcurrentShowable))} ms, median +{F(Median(appConcurrent) - Median(directConcurrentShowable))} ms");
report.Add($"  app, until the turn rows are written: median {F(Median(appConcurrentRows))} ms, p95 {F(P95(appConcurrentRows))} ms");

// Memory: a long answer (300 pieces, 20 ms apart: about 6 s), measured about 2 s after every chat has its first token.
Console.WriteLine("Memory with the chats open...");
server.DefaultReply = new ScriptedReply { Text = PiecesText(300), Chunks = 300, ChunkDelay = TimeSpan.FromMilliseconds(20) };
var memory = new List<string>();
for (var round = 0; round < 2; round++)
{
    foreach (var runApp in new[] { true, false })
    {
        server.ClearRecorded();
        var idle = Measure();
        Snapshot early = default, open = default;
        var batch = runApp
            ? await AppBatchAsync(concurrent, untilOpen: MeasureOpenAsync)
            : await DirectBatchAsync(concurrent, untilOpen: MeasureOpenAsync);
        memory.Add($"  {(runApp ? "app chats" : "direct streams")} (round {round + 1}): managed {MiB(idle.ManagedBytes)} MiB idle, " +
            $"{MiB(early.ManagedBytes)} MiB after 1 s ({PerChat(idle.ManagedBytes, early.ManagedBytes)} KiB per open chat), " +
            $"{MiB(open.ManagedBytes)} MiB after 3 s ({PerChat(idle.ManagedBytes, open.ManagedBytes)} KiB per open chat); " +
            $"working set {MiB(idle.WorkingSetBytes)} -> {MiB(early.WorkingSetBytes)} -> {MiB(open.WorkingSetBytes)} MiB; " +
            $"streams open: {early.OpenStreams}/{early.OpenStreamsAfter} and {open.OpenStreams}/{open.OpenStreamsAfter} (before/after each measure)");

        async Task MeasureOpenAsync()
        {
            await Task.Delay(1000);
            var openBefore = server.OpenStreams;
            early = Measure() with { OpenStreams = openBefore, OpenStreamsAfter = server.OpenStreams };
            await Task.Delay(2000);
            openBefore = server.OpenStreams;
            open = Measure() with { OpenStreams = openBefore, OpenStreamsAfter = server.OpenStreams };
        }
    }
}
report.Add($"[3b] memory with {concurrent} chats open (1 s and 3 s after every chat has its first token: about 50 and 150 of 300 pieces in) against none, GC.GetTotalMemory(true) and working set of this process " +
    "(the recording server's side of each stream is in this process too, in both rows):");
report.AddRange(memory);

// Where an open chat's memory grows: the engine keeps every ChatResponseUpdate of the call (to build the response
// for usage and tool calls at its end). What 1,000 kept updates cost, with and without the SDK's raw update.
server.DefaultReply = new ScriptedReply { Text = PiecesText(1000), Chunks = 1000 };
var kept = new List<string>();
foreach (var dropRaw in new[] { false, true, false, true })
{
    var before = Measure();
    var updates = new List<ChatResponseUpdate>();
    await foreach (var update in direct.GetStreamingResponseAsync(DirectPrompt("Keep every update"), directOptions))
    {
        if (dropRaw)
        {
            update.RawRepresentation = null;
        }
        updates.Add(update);
    }
    var after = Measure();
    kept.Add($"  {updates.Count} updates kept{(dropRaw ? ", RawRepresentation dropped" : "")}: {((after.ManagedBytes - before.ManagedBytes) / (double)updates.Count).ToString("F0", inv)} bytes per update");
    GC.KeepAlive(updates);
}
report.Add("[3c] what the engine keeps per streamed piece (a 1,000-piece answer streamed directly, every ChatResponseUpdate kept in a list, as ChatEngine.StreamAsync does):");
report.AddRange(kept);
server.ClearRecorded();

var results = Path.Combine(TestDatabase.RepoRoot(), "bench", "results");
Directory.CreateDirectory(results);
await File.WriteAllTextAsync(Path.Combine(results, "chat-latest.txt"), string.Join('\n', report) + "\n");

// 4. Blazor circuits in a real app process.
if (circuits > 0)
{
    var load4 = Load();
    Console.WriteLine($"Blazor circuits: App.dll with {circuits} chat pages in Chromium...");
    try
    {
        report.AddRange(await CircuitBench.RunAsync(circuits, server));
        report.Add($"  ({load4} before, {Load()} after)");
    }
    catch (Exception ex) when (ex is PlaywrightException or TimeoutException or InvalidOperationException)
    {
        report.Add($"[4] Blazor circuits: the run failed ({ex.GetType().Name}: {ex.Message.Split('\n')[0]}); {load4} before, {Load()} after.");
    }
}
else
{
    report.Add("[4] Blazor circuits: not measured in this run (--circuits 0).");
}

var text = string.Join('\n', report);
Console.WriteLine(text);
await File.WriteAllTextAsync(Path.Combine(results, "chat-latest.txt"), text + "\n");
return 0;

async Task<BatchResult> AppBatchAsync(int n, Func<Task>? untilOpen)
{
    var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var firsts = Enumerable.Range(0, n).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
    var start = 0L;
    var tasks = Enumerable.Range(0, n).Select(async i =>
    {
        await gate.Task;
        return await AppTurnAsync(engine, caller, world, $"Concurrent question {i}", firsts[i], start);
    }).ToList();
    var maxOpen = 0;
    using var sampler = new OpenStreamSampler(server, v => maxOpen = Math.Max(maxOpen, v));
    start = Stopwatch.GetTimestamp();
    gate.SetResult();
    if (untilOpen is not null)
    {
        await Task.WhenAll(firsts.Select(f => f.Task));
        await untilOpen();
    }
    var timings = await Task.WhenAll(tasks);
    return new BatchResult([.. timings.Select(t => t.FirstToken)], [.. timings.Select(t => t.RowsWritten)], [], maxOpen);
}

async Task<BatchResult> DirectBatchAsync(int n, Func<Task>? untilOpen)
{
    var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var firsts = Enumerable.Range(0, n).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
    var start = 0L;
    var tasks = Enumerable.Range(0, n).Select(async i =>
    {
        await gate.Task;
        return await DirectAsync(direct, DirectPrompt($"Concurrent question {i}"), directOptions, firsts[i], start);
    }).ToList();
    var maxOpen = 0;
    using var sampler = new OpenStreamSampler(server, v => maxOpen = Math.Max(maxOpen, v));
    start = Stopwatch.GetTimestamp();
    gate.SetResult();
    if (untilOpen is not null)
    {
        await Task.WhenAll(firsts.Select(f => f.Task));
        await untilOpen();
    }
    var timings = await Task.WhenAll(tasks);
    return new BatchResult([.. timings.Select(t => t.FirstToken)], [], [.. timings.Select(t => t.Showable)], maxOpen);
}

static async Task<AppTiming> AppTurnAsync(ChatEngine engine, ChatCaller caller, BenchWorld world, string text, TaskCompletionSource? firstSeen, long? since)
{
    var turn = new LiveTurn();
    long rows = 0, connected = 0, first = 0;
    turn.Changed += () =>
    {
        var now = Stopwatch.GetTimestamp();
        if (rows == 0 && turn.UserTurnId != Guid.Empty)
        {
            rows = now;
        }
        if (connected == 0 && turn.Label is not null)
        {
            connected = now;
        }
        if (first == 0 && turn.Text.Length > 0)
        {
            first = now;
            firstSeen?.TrySetResult();
        }
    };
    var start = since ?? Stopwatch.GetTimestamp();
    var outcome = await engine.SendAsync(caller, world.Org.Slug, world.AgentId, null, text, turn, CancellationToken.None);
    var end = Stopwatch.GetTimestamp();
    if (outcome.Status != TurnStatus.Complete || first == 0)
    {
        throw new InvalidOperationException($"The turn ended {outcome.Status}: {outcome.Error}");
    }
    return new AppTiming(Ms(start, rows), Ms(start, connected), Ms(start, first), Ms(start, end));
}

static async Task<DirectTiming> DirectAsync(IChatClient client, List<ChatMessage> messages, ChatOptions options, TaskCompletionSource? firstSeen, long? since = null)
{
    var start = since ?? Stopwatch.GetTimestamp();
    long first = 0, showable = 0;
    // What a caller that shows the answer keeps: the text so far.
    var answer = new StringBuilder();
    await foreach (var update in client.GetStreamingResponseAsync(messages, options))
    {
        if (update.Text is { Length: > 0 } delta)
        {
            answer.Append(delta);
            if (first == 0)
            {
                first = Stopwatch.GetTimestamp();
                firstSeen?.TrySetResult();
            }
            if (showable == 0 && answer.Length > HoldBackChars)
            {
                showable = Stopwatch.GetTimestamp();
            }
        }
    }
    var end = Stopwatch.GetTimestamp();
    return first == 0 || showable == 0
        ? throw new InvalidOperationException("The direct stream carried too little text.")
        : new DirectTiming(Ms(start, first), Ms(start, showable), Ms(start, end));
}

static async Task<List<(string Name, List<double> Times)>> StepsAsync(IServiceProvider services, BenchWorld world, int n)
{
    var names = new[]
    {
        "access check (OrganizationAccess.RequireAsync: org + membership, one platform query)",
        "cost guard turn check in a person's tenant operation of its own (access check + unit of work + ICostGuard.CheckTurnAsync, which locks the agent's turn checks; in a turn it runs inside BeginAsync's unit of work)",
        "a person's tenant operation with one small query (TenantOperation.RunAsync: access check + unit of work; BeginAsync is one such, with 4 reads and the inserts)",
        "  of which: org lookup alone (platform, as RunAsSystemAsync does first)",
        "  of which: bare tenant unit of work with the same query (TenantUnitOfWork.RunAsync)",
        "provider connection on its own (IModelGateway.ConnectAsync: org lookup + unit of work + vault key and SDK client, kept 60 s; in a turn the provider is read in the turn's unit of work)",
        "  of which: vault open of the provider key alone (ISecretVault.OpenAsync)",
        "cost guard call check on its own (ICostGuard.CheckCallAsync: org lookup + one system unit of work that also reserves the projected cost; a turn's first call is checked inside the turn's unit of work, later tool-loop calls this way)",
        "usage record (ICostGuard.RecordAsync, releasing the reservation; after the answer, not before the first token)",
    };
    var times = names.Select(_ => new List<double>(n)).ToList();
    var choice = new ModelChoice(world.ProviderId, BenchWorld.Model);
    TenantSchemaName schema;
    SealedSecret key;
    await using (var scope = services.CreateAsyncScope())
    {
        schema = (await scope.ServiceProvider.GetRequiredService<OrganizationAccess>().RequireAsync(world.Owner, world.Org.Slug, OrgRole.Member, "bench", default)).Schema;
        var provider = await scope.ServiceProvider.GetRequiredService<TenantOperation>().RunAsSystemAsync(world.Org.Id, "bench",
            (w, t) => w.Db.ModelProviders.AsNoTracking().FirstAsync(p => p.Id == world.ProviderId, t), default);
        key = new SealedSecret(provider.ApiKeyCiphertext!, provider.ApiKeyVersion!.Value);
    }
    for (var i = 0; i < n + 20; i++)
    {
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var guard = sp.GetRequiredService<ICostGuard>();
        var marks = new List<long> { Stopwatch.GetTimestamp() };
        await sp.GetRequiredService<OrganizationAccess>().RequireAsync(world.Owner, world.Org.Slug, OrgRole.Member, "bench", default);
        marks.Add(Stopwatch.GetTimestamp());
        await sp.GetRequiredService<TenantOperation>().RunAsync(world.Owner, OrgRef.ById(world.Org.Id), OrgRole.Member, "bench",
            (w, t) => guard.CheckTurnAsync(w, world.AgentId, t), default);
        marks.Add(Stopwatch.GetTimestamp());
        await sp.GetRequiredService<TenantOperation>().RunAsync(world.Owner, OrgRef.ById(world.Org.Id), OrgRole.Member, "bench",
            (w, t) => w.Db.Agents.AsNoTracking().AnyAsync(a => a.Id == world.AgentId, t), default);
        marks.Add(Stopwatch.GetTimestamp());
        var factory = sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
        await using (var db = await factory.CreateDbContextAsync())
        {
            await db.Organizations.AsNoTracking().FirstAsync(o => o.Id == world.Org.Id);
        }
        marks.Add(Stopwatch.GetTimestamp());
        await sp.GetRequiredService<TenantUnitOfWork>().RunAsync(schema,
            (db, t) => db.Agents.AsNoTracking().AnyAsync(a => a.Id == world.AgentId, t), default);
        marks.Add(Stopwatch.GetTimestamp());
        var connection = await sp.GetRequiredService<IModelGateway>().ConnectAsync(world.Org.Id, choice, default);
        marks.Add(Stopwatch.GetTimestamp());
        await sp.GetRequiredService<ISecretVault>().OpenAsync(world.Org.Id, SecretPurposes.ModelProviderApiKey, world.ProviderId, key, default);
        marks.Add(Stopwatch.GetTimestamp());
        var runId = Guid.CreateVersion7();
        var decision = await guard.CheckCallAsync(world.Org.Id, new RunBudget(runId, world.AgentId, BenchWorld.RunCap), 0.01m, default);
        marks.Add(Stopwatch.GetTimestamp());
        await guard.RecordAsync(world.Org.Id, new UsageEntry(UsageSources.Chat, runId, world.AgentId, null, null, world.Owner.UserId,
            connection.Label, connection.Model, 11, 7, connection.Price.CostOf(11, 7), false, decision.ReservationId), default);
        marks.Add(Stopwatch.GetTimestamp());
        (connection.Client as IDisposable)?.Dispose();
        if (i >= 20)
        {
            for (var s = 0; s < names.Length; s++)
            {
                times[s].Add(Ms(marks[s], marks[s + 1]));
            }
        }
    }
    return [.. names.Zip(times)];
}

static Snapshot Measure()
{
    GC.Collect();
    GC.WaitForPendingFinalizers();
    GC.Collect();
    var managed = GC.GetTotalMemory(forceFullCollection: true);
    using var process = Process.GetCurrentProcess();
    process.Refresh();
    return new Snapshot(managed, process.WorkingSet64, 0, 0);
}

static string PiecesText(int pieces) => string.Concat(Enumerable.Range(0, pieces).Select(i => $"w{i % 1000:D3} "));

string PerChat(long idle, long open) => ((open - idle) / (double)concurrent / 1024).ToString("F1", inv);

string MiB(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F1", inv);

string F(double ms) => ms.ToString("F2", inv);

static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

static double Median(IEnumerable<double> xs) => Percentile(xs, 0.5);

static double P95(IEnumerable<double> xs) => Percentile(xs, 0.95);

static double Percentile(IEnumerable<double> xs, double p)
{
    var sorted = xs.Order().ToList();
    return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(p * (sorted.Count - 1)))];
}

int ArgValue(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

internal static partial class Program
{
    private static int HoldBackChars { get; set; }
}

namespace AgentSpace.Bench
{
    internal sealed record AppTiming(double RowsWritten, double Connected, double FirstToken, double Whole);

    /// <param name="Showable">When more text had arrived than the app's output filter holds back (see HoldBackChars).</param>
    internal sealed record DirectTiming(double FirstToken, double Showable, double Whole);

    internal sealed record BatchResult(List<double> FirstTokens, List<double> RowsWritten, List<double> Showable, int MaxOpen);

    internal readonly record struct Snapshot(long ManagedBytes, long WorkingSetBytes, int OpenStreams, int OpenStreamsAfter);

    /// <summary>Samples how many streams the server has open, every few milliseconds, while a batch runs.</summary>
    internal sealed class OpenStreamSampler : IDisposable
    {
        private readonly Timer _timer;

        public OpenStreamSampler(RecordingModelServer server, Action<int> sample) =>
            _timer = new Timer(_ => sample(server.OpenStreams), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(5));

        public void Dispose() => _timer.Dispose();
    }

    /// <summary>The app's real registrations (as App.Tests' AppServices builds them) on the system clock, hosted services started.</summary>
    internal sealed class BenchServices : IAsyncDisposable
    {
        private BenchServices(ServiceProvider provider) => Provider = provider;

        public ServiceProvider Provider { get; }

        public static async Task<BenchServices> StartAsync(string connectionString, string masterKey)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Default"] = connectionString,
                ["Email:PickupDirectory"] = Path.Combine(Path.GetTempPath(), "agentspace-bench-mail-" + Guid.NewGuid().ToString("N")),
                ["App:PublicBaseUrl"] = "https://bench.test",
                ["Vault:MasterKey"] = masterKey,
                ["Tenancy:RateLimits:OrganizationsPerUser"] = "1000",
                ["Tenancy:RateLimits:OrganizationsPerIp"] = "1000",
            }).Build();
            var services = new ServiceCollection()
                .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning).AddConsole())
                .AddSingleton<IConfiguration>(configuration)
                .AddSingleton<IHostEnvironment>(new BenchEnvironment());
            services.AddAppFeatures(configuration);
            var provider = services.BuildServiceProvider();
            await provider.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(default);
            foreach (var hosted in provider.GetServices<IHostedService>())
            {
                await hosted.StartAsync(default);
            }
            return new BenchServices(provider);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var hosted in Provider.GetServices<IHostedService>())
            {
                await hosted.StopAsync(default);
            }
            await Provider.DisposeAsync();
        }
    }

    /// <summary>An owner, their organization, a provider pointing at the recording server (key in the vault, priced model) and an agent on it.</summary>
    internal sealed record BenchWorld(Actor Owner, OrgSummary Org, Guid ProviderId, Guid AgentId)
    {
        public const string Model = "scripted-small";
        public const decimal RunCap = 1000m;

        public static async Task<BenchWorld> CreateAsync(IServiceProvider services, RecordingModelServer server, Actor? owner = null)
        {
            owner ??= await NewUserAsync(services, "bench-owner@bench.test");
            await using var scope = services.CreateAsyncScope();
            var sp = scope.ServiceProvider;
            var org = await sp.GetRequiredService<OrganizationService>().CreateAsync(owner, "bench-" + Guid.NewGuid().ToString("N")[..8], "Bench", default);
            var providers = sp.GetRequiredService<ProviderService>();
            var providerId = await providers.CreateAsync(owner, org.Slug, new ProviderInput("Recording", ModelProviderKind.OpenAICompatible, server.BaseUrl), server.ApiKey, default);
            await providers.AddModelsAsync(owner, org.Slug, providerId, [Model], default);
            await providers.SetPriceAsync(owner, org.Slug, providerId, Model, 0.5m, 1.5m, default);
            // Every limit on, none of them close: the checks run as in production and nothing throttles the run.
            await sp.GetRequiredService<UsageService>().SetMonthlyQuotaAsync(owner, org.Slug, UsageService.MaxQuotaUsd, default);
            var agent = await sp.GetRequiredService<AgentService>().CreateAsync(owner, org.Slug, new AgentInput
            {
                Name = "Bench agent",
                Colour = "#3f51b5",
                Instructions = "You answer briefly.",
                ProviderId = providerId,
                Model = Model,
                DailyMessageLimit = AgentValidation.MaxDailyMessageLimit,
                RunCostCapUsd = RunCap,
                MonthlyBudgetUsd = AgentValidation.MaxMonthlyBudgetUsd,
            }, default);
            return new BenchWorld(owner, org, providerId, agent.Id);
        }

        public static async Task<Actor> NewUserAsync(IServiceProvider services, string email)
        {
            var factory = services.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
            await using var db = await factory.CreateDbContextAsync();
            var user = AppUser.Create(email, DateTimeOffset.UtcNow);
            db.Users.Add(user);
            await db.SaveChangesAsync();
            return new Actor(user.Id, user.Email!, "203.0.113.7");
        }
    }

    internal sealed class BenchEnvironment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Benchmark";
        public string ApplicationName { get; set; } = "App";
        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }
}
