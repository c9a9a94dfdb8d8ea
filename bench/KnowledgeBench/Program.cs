using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AgentSpace;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Pgvector;
using Pgvector.Npgsql;

// Knowledge base benchmarks on a real corpus nobody here wrote: the Python documentation of Debian's python3-doc.
//   quality:  recall@10 and MRR of vector-only, text-only and hybrid retrieval, queries from the documents' titles
//   ingest:   chunks/s through the real pipeline (upload, extract, chunk, embed, store) for the given chunk counts
//   query:    hybrid query p50/p95 through KnowledgeSearch against the same SQL run directly, at the given sizes
//   recall:   recall@10 of the HNSW index against exact search at the configured ef_search
var inv = CultureInfo.InvariantCulture;
var corpusRoot = ArgText("--corpus", "/usr/share/doc/python3-doc/html");
var sizes = ArgText("--sizes", "10000,100000").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, inv)).ToList();
var querySizes = ArgText("--query-sizes", "100000").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, inv)).ToList();
var resultsName = ArgText("--results", "knowledge-latest.txt");
var queryRounds = ArgValue("--queries", 200);
var recallRounds = ArgValue("--recall-queries", queryRounds);
var efValues = ArgText("--ef", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, inv)).ToList();
var skipQuality = args.Contains("--no-quality");
if (!Directory.Exists(corpusRoot))
{
    Console.Error.WriteLine($"error: {corpusRoot} is missing: apt-get install -y python3-doc");
    return 1;
}
var report = new List<string>
{
    $"date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}; machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; " +
    $"PostgreSQL on 127.0.0.1 (scripts/postgres.sh); corpus: {corpusRoot} (python3-doc)",
};
string Load() => "load average " + File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Aggregate((a, b) => a + " " + b);
void Say(string line)
{
    Console.WriteLine(line);
    report.Add(line);
}

var files = Directory.EnumerateFiles(corpusRoot, "*.html", SearchOption.AllDirectories)
    .Where(f => !Path.GetFileName(f).StartsWith("genindex", StringComparison.Ordinal) && Path.GetFileName(f) is not ("search.html" or "py-modindex.html"))
    .Order(StringComparer.Ordinal).ToList();
Say($"corpus: {files.Count} HTML pages, {files.Sum(f => new FileInfo(f).Length) / 1024 / 1024} MB");

await using var database = await TestDatabase.CreateAsync();
var tempFolder = Path.Combine(Path.GetTempPath(), "agentspace-bench-knowledge-" + Guid.NewGuid().ToString("N"));
await using var services = await BenchServices.StartAsync(database.AppConnectionString, tempFolder);
var owner = await NewUserAsync(services.Provider, "bench-owner@bench.test");

// ---- Quality: one copy of the corpus, queries from each page's title.
if (!skipQuality)
{
    var org = await NewOrgAsync(services.Provider, owner, "quality");
    var (chunks, elapsed) = await IngestAsync(services.Provider, org, files, copy: 0);
    Say($"[quality] ingested {files.Count} pages into {chunks} chunks in {elapsed.TotalSeconds:0.0} s ({chunks / elapsed.TotalSeconds:0} chunks/s); {Load()}");
    var queries = await TitleQueriesAsync(services.Provider, org, files);
    Say($"[quality] {queries.Count} queries: each page's title without the \" — Python 3.11 documentation\" suffix (the part after the module name when the title has one), the page it titles expected");
    foreach (var mode in new[] { RetrievalMode.VectorOnly, RetrievalMode.TextOnly, RetrievalMode.Hybrid })
    {
        double hits = 0, reciprocal = 0;
        foreach (var (query, expected) in queries)
        {
            var found = await SearchDocumentsAsync(services.Provider, org, query, mode);
            var rank = found.IndexOf(expected) + 1;
            if (rank is > 0 and <= 10)
            {
                hits++;
                reciprocal += 1.0 / rank;
            }
        }
        Say(string.Create(inv, $"[quality] {mode,-10}: recall@10 {hits / queries.Count:0.000}, MRR@10 {reciprocal / queries.Count:0.000}"));
    }
}

// ---- Ingest throughput: the corpus replicated (each copy a different file, so none is skipped as a duplicate) up to each size.
var orgsBySize = new Dictionary<int, OrgSummary>();
foreach (var size in sizes.Distinct().Order())
{
    var org = await NewOrgAsync(services.Provider, owner, "ingest" + size.ToString(inv));
    long total = 0;
    var watch = Stopwatch.StartNew();
    var copy = 1;
    while (total < size)
    {
        var (chunks, _) = await IngestAsync(services.Provider, org, files, copy++, stopAt: size - total);
        total += chunks;
    }
    watch.Stop();
    Say(string.Create(inv, $"[ingest] {total} chunks ({copy - 1} copies of the corpus, the last partial) in {watch.Elapsed.TotalSeconds:0.0} s: {total / watch.Elapsed.TotalSeconds:0} chunks/s end to end (upload, extract, chunk, store, embed with the local embedder); {Load()}"));
    orgsBySize[size] = org;
}

// ---- Query latency and HNSW recall at each size (bulk-filled beyond what was ingested).
foreach (var size in querySizes.Distinct().Order())
{
    var org = orgsBySize.TryGetValue(size, out var existing) ? existing : await BulkOrgAsync(services.Provider, database, owner, size);
    var queries = (await TitleQueriesAsync(services.Provider, org, files)).Select(q => q.Query).Take(queryRounds).ToList();
    if (queries.Count == 0)
    {
        queries = ["exception handling in generators", "json encoder", "asyncio event loop", "regular expression groups"];
    }
    await QueryLatencyAsync(services.Provider, database, org, queries, size);
    var configured = services.Provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<KnowledgeSearchOptions>>().Value.EfSearch;
    foreach (var ef in efValues.Count > 0 ? efValues : [configured])
    {
        await HnswRecallAsync(services.Provider, database, org, [.. queries.Take(recallRounds)], size, ef);
    }
}

var results = Path.Combine(FindRepoRoot(), "bench", "results", resultsName);
Directory.CreateDirectory(Path.GetDirectoryName(results)!);
await File.WriteAllLinesAsync(results, report);
Console.WriteLine("written to " + results);
if (Directory.Exists(tempFolder))
{
    Directory.Delete(tempFolder, recursive: true);
}
return 0;

async Task<(long Chunks, TimeSpan Elapsed)> IngestAsync(IServiceProvider sp, OrgSummary org, IReadOnlyList<string> pages, int copy, long stopAt = long.MaxValue)
{
    var watch = Stopwatch.StartNew();
    long chunks = 0;
    foreach (var page in pages)
    {
        await using var scope = sp.CreateAsyncScope();
        var bytes = await File.ReadAllBytesAsync(page);
        if (copy > 0)
        {
            // An HTML comment changes the file (so it is not a duplicate) and nothing of its text.
            bytes = [.. bytes, .. Encoding.UTF8.GetBytes($"<!-- copy {copy} -->")];
        }
        await using var stream = new MemoryStream(bytes);
        var name = DocumentName(page);
        var uploaded = await scope.ServiceProvider.GetRequiredService<KnowledgeService>().UploadAsSystemAsync(org.Id, name, stream, default);
        await scope.ServiceProvider.GetRequiredService<KnowledgeProcessor>().RunPendingAsync(org.Id, default);
        var status = await scope.ServiceProvider.GetRequiredService<KnowledgeService>().StatusAsSystemAsync(org.Id, uploaded.DocumentId, default);
        chunks += status?.ChunkCount ?? 0;
        if (chunks >= stopAt)
        {
            break;
        }
    }
    return (chunks, watch.Elapsed);
}

// Pages in different folders share names (index.html): the folder goes into the name.
string DocumentName(string page) => Path.GetRelativePath(corpusRoot, page).Replace('/', '-');

async Task<List<(string Query, Guid Expected)>> TitleQueriesAsync(IServiceProvider sp, OrgSummary org, IReadOnlyList<string> pages)
{
    var names = await InTenantAsync(sp, org, db => db.KnowledgeDocuments.AsNoTracking().Where(d => d.Status == DocumentStatus.Ready)
        .Select(d => new { d.Id, d.Name }).ToListAsync());
    var byName = names.GroupBy(n => n.Name).ToDictionary(g => g.Key, g => g.First().Id);
    var queries = new List<(string, Guid)>();
    var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
    foreach (var page in pages)
    {
        if (!byName.TryGetValue(DocumentName(page), out var id))
        {
            continue;
        }
        var html = await File.ReadAllTextAsync(page);
        var title = System.Net.WebUtility.HtmlDecode(Regex.Match(html, "<title>(.*?)</title>", RegexOptions.Singleline).Groups[1].Value);
        title = Regex.Replace(title, @"\s+—\s+Python [0-9.]+ documentation\s*$", "").Trim();
        var dash = title.IndexOf(" — ", StringComparison.Ordinal);
        var query = dash > 0 && title[(dash + 3)..].Split(' ').Length >= 2 ? title[(dash + 3)..] : title;
        if (query.Length >= 4 && seen.Add(query))
        {
            queries.Add((query, id));
        }
    }
    // Titles shared by several pages say nothing about which one is meant.
    return queries;
}

async Task<List<Guid>> SearchDocumentsAsync(IServiceProvider sp, OrgSummary org, string query, RetrievalMode mode)
{
    await using var scope = sp.CreateAsyncScope();
    var hits = await scope.ServiceProvider.GetRequiredService<KnowledgeSearch>().SearchAsSystemAsync(org.Id, query, KnowledgeScope.AllDocuments, 50, default, mode);
    return [.. hits.Select(h => h.DocumentId).Distinct().Take(10)];
}

async Task QueryLatencyAsync(IServiceProvider sp, TestDatabase db, OrgSummary org, IReadOnlyList<string> queries, int size)
{
    var schema = await SchemaOfAsync(sp, org);
    var chunkCount = await InTenantAsync(sp, org, d => d.KnowledgeChunks.CountAsync());
    await using var direct = new NpgsqlDataSourceBuilder(db.AppConnectionString).UseVectorIfAvailable().Build();
    var sql = HybridSql.Build(LocalEmbedder.Dimensions, forAgent: false);
    var app = new List<double>();
    var raw = new List<double>();
    // Warm both paths.
    for (var i = 0; i < 20; i++)
    {
        await AppQueryAsync(queries[i % queries.Count]);
        await RawQueryAsync(queries[i % queries.Count]);
    }
    for (var i = 0; i < queries.Count; i++)
    {
        // Interleaved, the order alternating, so drift on a shared machine hits both alike.
        if (i % 2 == 0)
        {
            app.Add(await AppQueryAsync(queries[i]));
            raw.Add(await RawQueryAsync(queries[i]));
        }
        else
        {
            raw.Add(await RawQueryAsync(queries[i]));
            app.Add(await AppQueryAsync(queries[i]));
        }
    }
    Say(string.Create(inv, $"[query] {chunkCount} chunks ({size} asked), {queries.Count} queries: KnowledgeSearch (system path: org lookup, one unit of work, query embedded, same SQL) median {Median(app):0.00} ms, p95 {P95(app):0.00} ms; " +
        $"the same SQL run directly (one connection as the tenant role, vector precomputed) median {Median(raw):0.00} ms, p95 {P95(raw):0.00} ms; ratio median {Median(app) / Median(raw):0.00}x, p95 {P95(app) / P95(raw):0.00}x (target <= 1.5x); {Load()}"));

    async Task<double> AppQueryAsync(string q)
    {
        var watch = Stopwatch.StartNew();
        await using var scope = sp.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<KnowledgeSearch>().SearchAsSystemAsync(org.Id, q, KnowledgeScope.AllDocuments, 10, default);
        return watch.Elapsed.TotalMilliseconds;
    }

    async Task<double> RawQueryAsync(string q)
    {
        var vector = new HalfVector(LocalEmbedder.Embed(q).Select(v => (Half)v).ToArray());
        var watch = Stopwatch.StartNew();
        await using var conn = await direct.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using var cmd = new NpgsqlCommand($"set local role \"{schema}\"; set local search_path = \"{schema}\", extensions; " + sql, conn, tx);
        cmd.Parameters.AddWithValue("vector", vector);
        cmd.Parameters.AddWithValue("text", q);
        cmd.Parameters.AddWithValue("language", "english");
        cmd.Parameters.AddWithValue("embedder", LocalEmbedder.Id);
        cmd.Parameters.AddWithValue("k", 40);
        cmd.Parameters.AddWithValue("limit", 10);
        cmd.Parameters.AddWithValue("rrf", 60.0);
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
            }
        }
        await tx.CommitAsync();
        return watch.Elapsed.TotalMilliseconds;
    }
}

async Task HnswRecallAsync(IServiceProvider sp, TestDatabase db, OrgSummary org, IReadOnlyList<string> queries, int size, int ef)
{
    var schema = await SchemaOfAsync(sp, org);
    await using var direct = new NpgsqlDataSourceBuilder(db.AppConnectionString).UseVectorIfAvailable().Build();
    double total = 0;
    var indexTimes = new List<double>();
    var exactTimes = new List<double>();
    foreach (var q in queries)
    {
        var vector = new HalfVector(LocalEmbedder.Embed(q).Select(v => (Half)v).ToArray());
        var (approximate, approximateMs) = await TopAsync(vector, exact: false);
        var (exact, exactMs) = await TopAsync(vector, exact: true);
        indexTimes.Add(approximateMs);
        exactTimes.Add(exactMs);
        // By distance, not by id: among equally near passages (copies of one text) any of them is a right answer.
        var cutoff = exact.Count == 0 ? double.MaxValue : exact[^1].Distance + 1e-6;
        total += exact.Count == 0 ? 1 : Math.Min(exact.Count, approximate.Count(a => a.Distance <= cutoff)) / (double)exact.Count;
    }
    Say(string.Create(inv, $"[recall] {size} asked: HNSW top-10 at ef_search {ef} against exact top-10 (sequential scan; a hit counts when it is as near as the exact 10th), {queries.Count} queries: recall@10 {total / queries.Count:0.000} (target >= 0.95); " +
        $"index median {Median(indexTimes):0.00} ms, exact median {Median(exactTimes):0.00} ms; {Load()}"));

    async Task<(List<(Guid Id, double Distance)> Ids, double Ms)> TopAsync(HalfVector vector, bool exact)
    {
        var watch = Stopwatch.StartNew();
        await using var conn = await direct.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var settings = exact ? "set local enable_indexscan = off; set local enable_bitmapscan = off; " : $"set local hnsw.ef_search = {ef}; ";
        await using var cmd = new NpgsqlCommand(
            $"set local role \"{schema}\"; set local search_path = \"{schema}\", extensions; {settings}" +
            "select id, (embedding::halfvec(384) <=> @vector::halfvec(384))::float8 from knowledge_chunks where dimensions = 384 and embedder = @embedder " +
            "order by embedding::halfvec(384) <=> @vector::halfvec(384) limit 10", conn, tx);
        cmd.Parameters.AddWithValue("vector", vector);
        cmd.Parameters.AddWithValue("embedder", LocalEmbedder.Id);
        var ids = new List<(Guid, double)>();
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add((reader.GetGuid(0), reader.GetDouble(1)));
            }
        }
        await tx.CommitAsync();
        return (ids, watch.Elapsed.TotalMilliseconds);
    }
}

// A bigger set than is worth pushing through the pipeline: the chunks of one ingested copy, and generated ones made of them:
// the first half of one chunk's sentences followed by the second half of another's (a different pairing for every copy), so
// no two texts are the same and no passage has dozens of near-copies (which no real corpus has and which would measure
// the index against ties). Embedded with the local embedder and loaded with COPY; indexes rebuilt after.
async Task<OrgSummary> BulkOrgAsync(IServiceProvider sp, TestDatabase db, Actor who, int size)
{
    var org = await NewOrgAsync(sp, who, "bulk" + size.ToString(inv));
    var (seedChunks, _) = await IngestAsync(sp, org, files, copy: 0);
    var seed = await InTenantAsync(sp, org, d => d.KnowledgeChunks.AsNoTracking().Select(c => new { c.DocumentId, c.HeadingPath, c.Text, c.TokenCount }).ToListAsync());
    var schema = await SchemaOfAsync(sp, org);
    var watch = Stopwatch.StartNew();
    await using (var admin = new NpgsqlConnection(db.AdminConnectionString.Replace("Database=postgres", "Database=" + db.Name, StringComparison.Ordinal)))
    {
        await admin.OpenAsync();
        await using (var drop = new NpgsqlCommand($"set search_path = \"{schema}\", extensions; drop index ix_knowledge_chunks_embedding_384; drop index ix_knowledge_chunks_search;", admin))
        {
            await drop.ExecuteNonQueryAsync();
        }
    }
    var needed = size - seed.Count;
    var copies = (needed + seed.Count - 1) / Math.Max(seed.Count, 1);
    await using (var dataSource = new NpgsqlDataSourceBuilder(db.AppConnectionString).UseVectorIfAvailable().Build())
    {
        // Two loaders, one per core: computing each row's tsvector on insert is most of the cost.
        var loaders = Enumerable.Range(0, 2).Select(lane => Task.Run(async () =>
        {
            await using var conn = await dataSource.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using (var role = new NpgsqlCommand($"set local role \"{schema}\"; set local search_path = \"{schema}\", extensions;", conn, tx))
            {
                await role.ExecuteNonQueryAsync();
            }
            await using (var import = await conn.BeginBinaryImportAsync(
                "copy knowledge_chunks (id, document_id, ordinal, text, token_count, page, heading_path, start_char, embedder, dimensions, embedding) from stdin (format binary)"))
            {
                for (var copy = 1 + lane; copy <= copies; copy += 2)
                {
                    var take = (int)Math.Min(seed.Count, needed - (long)(copy - 1) * seed.Count);
                    var vectors = new HalfVector[take];
                    var texts = new string[take];
                    for (var i = 0; i < take; i++)
                    {
                        var c = seed[i];
                        texts[i] = Mosaic(c.Text, seed[(int)((i * 7L + copy * 7919L) % seed.Count)].Text);
                        vectors[i] = new HalfVector(LocalEmbedder.Embed(ChunkEmbedder.TextOf(c.HeadingPath, texts[i])).Select(v => (Half)v).ToArray());
                    }
                    for (var i = 0; i < take; i++)
                    {
                        var c = seed[i];
                        await import.StartRowAsync();
                        await import.WriteAsync(Guid.CreateVersion7(), NpgsqlTypes.NpgsqlDbType.Uuid);
                        await import.WriteAsync(c.DocumentId, NpgsqlTypes.NpgsqlDbType.Uuid);
                        await import.WriteAsync(1_000_000 * copy + i, NpgsqlTypes.NpgsqlDbType.Integer);
                        await import.WriteAsync(texts[i], NpgsqlTypes.NpgsqlDbType.Text);
                        await import.WriteAsync(c.TokenCount, NpgsqlTypes.NpgsqlDbType.Integer);
                        await import.WriteNullAsync();
                        await import.WriteAsync(c.HeadingPath, NpgsqlTypes.NpgsqlDbType.Text);
                        await import.WriteAsync(0, NpgsqlTypes.NpgsqlDbType.Integer);
                        await import.WriteAsync(LocalEmbedder.Id, NpgsqlTypes.NpgsqlDbType.Text);
                        await import.WriteAsync(LocalEmbedder.Dimensions, NpgsqlTypes.NpgsqlDbType.Integer);
                        await import.WriteAsync(vectors[i]);
                    }
                    Console.WriteLine($"  bulk: copy {copy} of {copies} written ({watch.Elapsed.TotalSeconds:0} s)");
                }
                await import.CompleteAsync();
            }
            await tx.CommitAsync();
        })).ToList();
        await Task.WhenAll(loaders);
    }
    var loaded = watch.Elapsed;
    await using (var admin = new NpgsqlConnection(db.AdminConnectionString.Replace("Database=postgres", "Database=" + db.Name, StringComparison.Ordinal)))
    {
        await admin.OpenAsync();
        await using var build = new NpgsqlCommand(
            $"set search_path = \"{schema}\", extensions; set maintenance_work_mem = '2GB'; set max_parallel_maintenance_workers = 1; " +
            "create index ix_knowledge_chunks_embedding_384 on knowledge_chunks using hnsw ((embedding::halfvec(384)) halfvec_cosine_ops) with (m = 16, ef_construction = 128) where dimensions = 384; " +
            "create index ix_knowledge_chunks_search on knowledge_chunks using gin (search); analyze knowledge_chunks;", admin) { CommandTimeout = 0 };
        await build.ExecuteNonQueryAsync();
    }
    Say(string.Create(inv, $"[bulk] {size} chunks: {seedChunks} ingested, the rest copied and embedded in {loaded.TotalSeconds:0} s; HNSW and GIN indexes built in {(watch.Elapsed - loaded).TotalSeconds:0} s; {Load()}"));
    return org;
}

static string Mosaic(string first, string second)
{
    var a = Regex.Split(first, @"(?<=[.!?])\s+");
    var b = Regex.Split(second, @"(?<=[.!?])\s+");
    return string.Join(" ", a.Take(Math.Max(1, a.Length / 2)).Concat(b.Skip(b.Length / 2)));
}

static async Task<string> SchemaOfAsync(IServiceProvider sp, OrgSummary org)
{
    await using var db = await sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
    return await db.Organizations.Where(o => o.Id == org.Id).Select(o => o.SchemaName).SingleAsync();
}

static async Task<T> InTenantAsync<T>(IServiceProvider sp, OrgSummary org, Func<TenantDbContext, Task<T>> work)
{
    await using var scope = sp.CreateAsyncScope();
    return await scope.ServiceProvider.GetRequiredService<TenantOperation>().RunAsSystemAsync(org.Id, "benchmark", (w, _) => work(w.Db), default);
}

static async Task<Actor> NewUserAsync(IServiceProvider sp, string email)
{
    await using var db = await sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
    var user = AppUser.Create(email, DateTimeOffset.UtcNow);
    db.Users.Add(user);
    await db.SaveChangesAsync();
    return new Actor(user.Id, user.Email!, "127.0.0.1");
}

static async Task<OrgSummary> NewOrgAsync(IServiceProvider sp, Actor who, string name)
{
    await using var scope = sp.CreateAsyncScope();
    return await scope.ServiceProvider.GetRequiredService<OrganizationService>().CreateAsync(who, "kb-" + name + "-" + Guid.NewGuid().ToString("N")[..6], name, default);
}

static double Median(List<double> values) => Percentile(values, 0.5);

static double P95(List<double> values) => Percentile(values, 0.95);

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
}

string ArgText(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

int ArgValue(string name, int fallback) => int.Parse(ArgText(name, fallback.ToString(inv)), inv);

static string FindRepoRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Blazor.sln")))
    {
        dir = dir.Parent;
    }
    return dir?.FullName ?? Directory.GetCurrentDirectory();
}

internal static class DataSourceExtensions
{
    public static NpgsqlDataSourceBuilder UseVectorIfAvailable(this NpgsqlDataSourceBuilder builder)
    {
        builder.UseVector();
        return builder;
    }
}

internal sealed class BenchServices : IAsyncDisposable
{
    private BenchServices(ServiceProvider provider) => Provider = provider;

    public ServiceProvider Provider { get; }

    public static async Task<BenchServices> StartAsync(string connectionString, string tempFolder)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = connectionString,
            ["Email:PickupDirectory"] = Path.Combine(Path.GetTempPath(), "agentspace-bench-mail-" + Guid.NewGuid().ToString("N")),
            ["App:PublicBaseUrl"] = "https://bench.test",
            ["Vault:MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Tenancy:RateLimits:OrganizationsPerUser"] = "1000",
            ["Tenancy:RateLimits:OrganizationsPerIp"] = "1000",
            ["Knowledge:BackgroundProcessing"] = "false",
            ["Knowledge:TempDirectory"] = tempFolder,
            ["Knowledge:OrgQuotaBytes"] = (100L * 1024 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning).AddConsole())
            .AddSingleton<IConfiguration>(configuration)
            .AddSingleton<IHostEnvironment>(new BenchEnvironment());
        services.AddAppFeatures(configuration);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(default);
        return new BenchServices(provider);
    }

    public async ValueTask DisposeAsync() => await Provider.DisposeAsync();
}

internal sealed class BenchEnvironment : IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Production";
    public string ApplicationName { get; set; } = "AgentSpace";
    public string ContentRootPath { get; set; } = Directory.GetCurrentDirectory();
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}
