using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Hosting;

/// <summary>
/// The built App.dll run as an operator runs it (<c>dotnet App.dll</c> in the repository root, settings from
/// environment variables), for what only a real process shows: exit codes and what it prints.
/// </summary>
public sealed class AppDll : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private AppDll(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    public string StandardOutput { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string StandardError { get { lock (_stderr) { return _stderr.ToString(); } } }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts the app serving plain HTTP on a free loopback port, or, with <paramref name="arguments"/>, runs them (an
    /// admin command) instead, with <paramref name="environment"/> on top of a clean environment.
    /// </summary>
    public static AppDll Start(IReadOnlyDictionary<string, string> environment, IReadOnlyList<string>? arguments = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var configuration = typeof(AppDll).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(TestDatabase.RepoRoot(), "App", "bin", configuration, "net10.0", "App.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"App.dll not found; build App ({configuration}) first.", dll);
        }
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = TestDatabase.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        if (arguments is null)
        {
            info.ArgumentList.Add("--urls");
            info.ArgumentList.Add(baseUrl.ToString().TrimEnd('/'));
        }
        else
        {
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }
        }
        // The test runner's own settings must not leak into the app.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        var app = new AppDll(process, baseUrl);
        process.OutputDataReceived += (_, e) => Append(app._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(app._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return app;
    }

    /// <summary>Waits for the process to exit by itself; false when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            // Returns once the output streams are drained too.
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>GET <paramref name="path"/> until the app answers (any status), for up to <paramref name="timeout"/>.</summary>
    public async Task<HttpResponseMessage> GetWhenListeningAsync(string path, TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The app exited with {_process.ExitCode}:\n{StandardOutput}\n{StandardError}");
            }
            try
            {
                return await http.GetAsync(new Uri(path, UriKind.Relative));
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>Ends the process at once with SIGKILL, as a crash or an OOM kill would: nothing of its own runs after.</summary>
    public void KillNow() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
