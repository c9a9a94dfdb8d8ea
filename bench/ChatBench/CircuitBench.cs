using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using MimeKit;

namespace AgentSpace.Bench;

/// <summary>
/// Blazor circuits in a real app process: App.dll (Release build) started as an operator starts it (Development,
/// plain http on 127.0.0.1, as ./run.sh serves it) on a fresh database, one person signed in through the
/// emailed link in headless Chromium, an agent on the recording server, then N chat pages open in that browser
/// (one circuit each) and a streaming answer in every one. What is measured is the app process's resident
/// memory (from outside: its GC heap is not visible to this process), at the same moments.
/// </summary>
internal static partial class CircuitBench
{
    private const string ChromiumPath = "/usr/bin/chromium";

    public static async Task<List<string>> RunAsync(int n, RecordingModelServer server)
    {
        var inv = CultureInfo.InvariantCulture;
        await using var database = await TestDatabase.CreateAsync();
        var masterKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var mailFolder = Path.Combine(Path.GetTempPath(), "agentspace-bench-circuit-mail-" + Guid.NewGuid().ToString("N"));
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Default"] = database.AppConnectionString,
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Email__PickupDirectory"] = mailFolder,
            ["SignIn__MaxRequestsPerIp"] = "1000",
            ["SignIn__MaxAuthPostsPerIpPerMinute"] = "1000",
            ["Vault__MasterKey"] = masterKey,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        using (var migrate = StartApp(["migrate"], environment))
        {
            await migrate.WaitForExitAsync();
            if (migrate.ExitCode != 0)
            {
                throw new InvalidOperationException("App.dll migrate failed.");
            }
        }
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        using var app = StartApp(["--urls", baseUrl.ToString().TrimEnd('/')], environment);
        try
        {
            await WaitUntilReadyAsync(app, baseUrl);
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl.ToString(), Locale = "en-US" });
            context.SetDefaultTimeout(60_000);
            var email = $"circuits-{Guid.NewGuid():N}"[..20] + "@bench.test";
            var first = await context.NewPageAsync();
            await SignInAsync(first, baseUrl, mailFolder, email);

            // The organization, provider and agent, created through the services on the same database and vault key.
            BenchWorld world;
            await using (var services = await BenchServices.StartAsync(database.AppConnectionString, masterKey))
            {
                var userId = await database.ScalarAsAdminAsync<Guid>($"select id from platform.users where email = '{email}'");
                world = await BenchWorld.CreateAsync(services.Provider, server, new Identity.Actor(userId, email, "127.0.0.1"));
            }
            var chatPath = $"/o/{world.Org.Slug}/chat/{world.AgentId}";

            // Warm-up: one circuit that has sent a message and received its answer; it stays open (the baseline has it).
            server.DefaultReply = new ScriptedReply { Text = "Warm-up answer.", Chunks = 4 };
            await OpenChatAsync(first, chatPath);
            // A short answer may end before a Stop button could be seen: wait for the answer itself.
            await first.GetByLabel("Message").FillAsync("Warm-up question");
            await first.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
            await Assertions.Expect(first.GetByText("Warm-up answer.")).ToBeVisibleAsync(new() { Timeout = 30_000 });
            await Task.Delay(2000);
            var baseline = await RssAsync(app);

            var pages = new List<IPage>(n);
            for (var i = 0; i < n; i++)
            {
                var page = await context.NewPageAsync();
                await OpenChatAsync(page, chatPath);
                pages.Add(page);
            }
            await Task.Delay(2000);
            var idle = await RssAsync(app);

            // A long answer in every page: 600 pieces, 100 ms apart (about 60 s, so the first is still streaming when the
            // last page has sent on a loaded machine), measured once all are streaming. Faster pieces in 20 pages at once
            // starved headless Chromium on the 2-core machine until circuits dropped.
            server.DefaultReply = new ScriptedReply { Text = string.Concat(Enumerable.Range(0, 600).Select(i => $"w{i % 1000:D3} ")), Chunks = 600, ChunkDelay = TimeSpan.FromMilliseconds(100) };
            foreach (var page in pages)
            {
                await SendAsync(page, "A question with a long answer");
            }
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (server.OpenStreams < n && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            var openWhenMeasured = server.OpenStreams;
            await Task.Delay(2000);
            var streaming = await RssAsync(app);
            var openAfter = server.OpenStreams;
            deadline = DateTime.UtcNow.AddSeconds(120);
            while (server.OpenStreams > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
            await Task.Delay(2000);
            var connected = 0;
            foreach (var page in pages)
            {
                connected += await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).IsVisibleAsync() ? 1 : 0;
            }
            var done = await RssAsync(app);

            string Per(long from, long to) => ((to - from) / (double)n / 1024).ToString("F0", inv);
            string MiB(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F1", inv);
            return
            [
                $"[4] Blazor circuits: App.dll as a process (Development, plain http, server GC), {n} chat pages in headless Chromium, app process resident memory (VmRSS, median of 5 samples):",
                $"  1 warm-up circuit (answered once): {MiB(baseline)} MiB",
                $"  + {n} chat pages open, idle: {MiB(idle)} MiB, {Per(baseline, idle)} KiB per circuit",
                $"  + a streaming answer in each ({openWhenMeasured} streams open when measured, {openAfter} after): {MiB(streaming)} MiB, {Per(baseline, streaming)} KiB per circuit",
                $"  after the answers completed (circuits still open; {connected} of {n} pages show Send again): {MiB(done)} MiB, {Per(baseline, done)} KiB per circuit",
            ];
        }
        finally
        {
            if (!app.HasExited)
            {
                app.Kill(entireProcessTree: true);
                await app.WaitForExitAsync();
            }
            if (Directory.Exists(mailFolder))
            {
                Directory.Delete(mailFolder, recursive: true);
            }
        }
    }

    private static async Task SignInAsync(IPage page, Uri baseUrl, string mailFolder, string email)
    {
        await page.GotoAsync("/signin");
        await page.GetByLabel("Email", new() { Exact = true }).FillAsync(email);
        await page.GetByRole(AriaRole.Button, new() { Name = "Send sign-in link" }).ClickAsync();
        var prefix = new Uri(baseUrl, "/auth/redeem?").ToString();
        Uri? link = null;
        for (var i = 0; i < 200 && link is null; i++)
        {
            if (Directory.Exists(mailFolder))
            {
                foreach (var file in Directory.GetFiles(mailFolder, "*.eml"))
                {
                    using var message = await MimeMessage.LoadAsync(file);
                    var found = UrlPattern().Matches(message.TextBody ?? "").FirstOrDefault(m => m.Value.StartsWith(prefix, StringComparison.Ordinal));
                    link = found is null ? null : new Uri(found.Value);
                }
            }
            if (link is null)
            {
                await Task.Delay(100);
            }
        }
        await page.GotoAsync((link ?? throw new TimeoutException("No sign-in email.")).ToString());
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(new Regex("/orgs"));
    }

    /// <summary>Opens the chat page and waits until its circuit is up (the message box is enabled only once the circuit has rendered).</summary>
    private static async Task OpenChatAsync(IPage page, string path)
    {
        var rendered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        page.WebSocket += (_, socket) =>
        {
            if (socket.Url.Contains("/_blazor", StringComparison.Ordinal))
            {
                socket.FrameReceived += (_, frame) =>
                {
                    if (frame.Binary is { } bytes && bytes.AsSpan().IndexOf("JS.RenderBatch"u8) >= 0)
                    {
                        rendered.TrySetResult();
                    }
                };
            }
        };
        await page.GotoAsync(path);
        await rendered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Assertions.Expect(page.GetByLabel("Message")).ToBeEnabledAsync(new() { Timeout = 60_000 });
        await Task.Delay(300);
    }

    private static async Task SendAsync(IPage page, string text)
    {
        await page.GetByLabel("Message").FillAsync(text);
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    private static async Task<long> RssAsync(Process app)
    {
        var samples = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            app.Refresh();
            samples.Add(app.WorkingSet64);
            await Task.Delay(200);
        }
        return samples.Order().ElementAt(2);
    }

    private static Process StartApp(IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var dll = Path.Combine(TestDatabase.RepoRoot(), "App", "bin", "Release", "net10.0", "App.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("Build App in Release first (dotnet build Blazor.sln -c Release).", dll);
        }
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = TestDatabase.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        // Drained so the app never blocks on a full pipe; its warnings go to this console.
        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Forward(string? line)
    {
        if (line is not null && (line.Contains("fail", StringComparison.Ordinal) || line.Contains("crit", StringComparison.Ordinal) || line.Contains("Exception", StringComparison.Ordinal)))
        {
            Console.WriteLine("  app: " + line);
        }
    }

    private static async Task WaitUntilReadyAsync(Process app, Uri baseUrl)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (app.HasExited)
            {
                throw new InvalidOperationException($"App.dll exited with {app.ExitCode}.");
            }
            try
            {
                using var response = await http.GetAsync(new Uri("/signin", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(250);
        }
        throw new TimeoutException("App.dll did not answer GET /signin within 60 s.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [GeneratedRegex(@"https?://[^\s<>""]+")]
    private static partial Regex UrlPattern();
}
