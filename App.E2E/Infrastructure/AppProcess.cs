using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>
/// App.dll run as a real process (as an operator runs it), from App/bin/&lt;the test build's Configuration&gt;/net10.0,
/// with the repository root as working directory so it reads the real appsettings.json.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly OutputLog _log;

    private AppProcess(Process process, OutputLog log, Uri baseUrl)
    {
        _process = process;
        _log = log;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output => _log.ToString();

    public static string AppDll()
    {
        var configuration = typeof(AppProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(TestDatabase.RepoRoot(), "App", "bin", configuration, "net10.0", "App.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"App.dll not found; build App ({configuration}) first.", dll);
    }

    /// <summary>Runs <c>App.dll migrate</c> and fails with its output unless it exits with 0.</summary>
    public static async Task MigrateAsync(IReadOnlyDictionary<string, string> environment)
    {
        var log = new OutputLog();
        using var process = Start(["migrate"], environment, log);
        using var timeout = new CancellationTokenSource(MigrateTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"App.dll migrate did not finish in {MigrateTimeout.TotalSeconds:F0} s:\n{log}");
        }
        // WaitForExitAsync returns once the output streams are drained too.
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"App.dll migrate exited with {process.ExitCode}:\n{log}");
        }
    }

    /// <summary>Starts the app on a free loopback port and waits until GET /signin answers 200.</summary>
    public static async Task<AppProcess> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var log = new OutputLog();
        var process = Start(["--urls", baseUrl.ToString().TrimEnd('/')], environment, log);
        var app = new AppProcess(process, log, baseUrl);
        try
        {
            await app.WaitUntilReadyAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + StartTimeout;
        var last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The app exited with {_process.ExitCode} before answering:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync(new Uri("/signin", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
                last = $"{(int)response.StatusCode} {response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException)
            {
                last = "request timed out";
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"GET {BaseUrl}signin did not answer 200 within {StartTimeout.TotalSeconds:F0} s (last: {last}). App output:\n{Output}");
    }

    private static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, OutputLog log)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = TestDatabase.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(AppDll());
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // The test runner's own settings must not leak into the app.
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => log.Append(e.Data);
        process.ErrorDataReceived += (_, e) => log.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private sealed class OutputLog
    {
        private readonly StringBuilder _text = new();

        public void Append(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_text)
            {
                _text.AppendLine(line);
            }
        }

        public override string ToString()
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }
}
