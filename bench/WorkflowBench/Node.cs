using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Bench;

/// <summary>
/// One App.dll process (Release build, as an operator runs it: Development, plain http) with the workflow scheduler on.
/// Its database connections carry <see cref="Name"/> as their application name, so the rows it writes can be told apart.
/// </summary>
internal sealed class Node : IAsyncDisposable
{
    private readonly Process _process;
    private int _duplicates;
    private int _errors;
    private int _shown;
    private string? _header;

    private Node(string name, Process process, Uri baseUrl)
    {
        Name = name;
        _process = process;
        BaseUrl = baseUrl;
    }

    public string Name { get; }

    public Uri BaseUrl { get; }

    public int Pid => _process.Id;

    public bool Exited => _process.HasExited;

    /// <summary>Firings this node took that another node had already stored (the unique index refused the second run).</summary>
    public int Duplicates => Volatile.Read(ref _duplicates);

    /// <summary>Lines logged at error level or above.</summary>
    public int Errors => Volatile.Read(ref _errors);

    public static string AppDll()
    {
        var dll = Path.Combine(TestDatabase.RepoRoot(), "App", "bin", "Release", "net10.0", "App.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build App in Release first (dotnet build Blazor.sln -c Release).", dll);
    }

    public static async Task<Node> StartAsync(string name, IReadOnlyDictionary<string, string> environment)
    {
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = TestDatabase.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(AppDll());
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(baseUrl.ToString().TrimEnd('/'));
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        var node = new Node(name, process, baseUrl);
        process.OutputDataReceived += (_, e) => node.Read(e.Data);
        process.ErrorDataReceived += (_, e) => node.Read(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await node.WaitUntilReadyAsync();
        return node;
    }

    /// <summary>SIGKILL: no shutdown, no scheduler stop, connections dropped mid-transaction.</summary>
    public void Kill() => _process.Kill();

    /// <summary>User and system CPU time the process has used so far, from /proc.</summary>
    public TimeSpan CpuTime() => Exited ? TimeSpan.Zero : ProcCpu(Pid);

    public static TimeSpan ProcCpu(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of stat (utime, stime), counted after the command name; clock ticks of 1/100 s on Linux.
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    private void Read(string? line)
    {
        if (line is null)
        {
            return;
        }
        // The console logger writes "level: category[event]" on one line and the message on the next.
        lock (_process)
        {
            var header = _header;
            _header = null;
            if (line.StartsWith("warn:", StringComparison.Ordinal) || line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
            {
                _header = line;
                return;
            }
            if (line.Contains("was already taken by another node", StringComparison.Ordinal))
            {
                _duplicates++;
                return;
            }
            if (header is not null && !header.StartsWith("warn:", StringComparison.Ordinal))
            {
                _errors++;
            }
            if (header is not null && ++_shown <= 40)
            {
                Console.WriteLine($"  {Name}: {header} {line.Trim()}");
            }
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} before answering.");
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
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{Name} did not answer GET /signin within 90 s.");
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
        }
        finally
        {
            _process.Dispose();
        }
    }
}
