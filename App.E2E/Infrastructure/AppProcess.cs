using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>
/// App.dll run as a real process (as an operator runs it), from App/bin/&lt;the test build's Configuration&gt;/net10.0,
/// with the repository root as working directory so it reads the real appsettings.json.
/// By default it serves HTTPS with a throwaway self-signed certificate, as behind a real host name; with
/// <c>https: false</c> it serves plain http://127.0.0.1 and no certificate, as <c>./run.sh</c> does for local development.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    // Generous: on a loaded machine two nodes starting at once (the workflow cluster tests) take well over a minute.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly OutputLog _log;

    // Both null when serving plain HTTP.
    private readonly string? _certificateFolder;
    private readonly string? _certificateHash;

    private AppProcess(Process process, OutputLog log, Uri baseUrl, string? certificateFolder, string? certificateHash)
    {
        _process = process;
        _log = log;
        BaseUrl = baseUrl;
        _certificateFolder = certificateFolder;
        _certificateHash = certificateHash;
    }

    public Uri BaseUrl { get; }

    /// <summary>
    /// An HTTP client for calls a machine makes (a webhook sender), trusting exactly the certificate this run made.
    /// The caller disposes it.
    /// </summary>
    public HttpClient NewHttpClient()
    {
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                _certificateHash is null || certificate is not null && certificate.GetCertHashString(HashAlgorithmName.SHA256) == _certificateHash,
        };
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>What the process wrote to stdout and stderr so far (the last part, when it is long).</summary>
    public string Output => FullOutput is { Length: > 20_000 } all ? "…" + all[^20_000..] : FullOutput;

    public string FullOutput => _log.ToString();

    /// <summary>The operating system's id of the app's process.</summary>
    public int ProcessId => _process.Id;

    /// <summary>
    /// Ends the process at once with SIGKILL, as a crash or <c>kill -9</c> would: no shutdown, no hosted service
    /// stopped, nothing flushed. Returns once the process is gone.
    /// </summary>
    public async Task KillAsync()
    {
        if (_process.HasExited)
        {
            return;
        }
        // Process.Kill sends SIGKILL on Unix.
        _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _process.WaitForExitAsync(timeout.Token);
    }

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

    /// <summary>
    /// Starts the app on a free loopback port and waits until GET /signin answers 200: over HTTPS with a throwaway
    /// certificate, or over plain HTTP with none when <paramref name="https"/> is false.
    /// </summary>
    public static async Task<AppProcess> StartAsync(IReadOnlyDictionary<string, string> environment, bool https = true)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var baseUrl = new Uri($"{(https ? "https" : "http")}://127.0.0.1:{FreePort()}");
        string? certificateFolder = null;
        string? hash = null;
        var appEnvironment = new Dictionary<string, string>(environment);
        if (https)
        {
            certificateFolder = Path.Combine(Path.GetTempPath(), "agentspace-e2e-cert-" + Guid.NewGuid().ToString("N"));
            (var certificatePath, var password, hash) = CreateCertificate(certificateFolder);
            appEnvironment["Kestrel__Certificates__Default__Path"] = certificatePath;
            appEnvironment["Kestrel__Certificates__Default__Password"] = password;
        }
        var log = new OutputLog();
        var process = Start(["--urls", baseUrl.ToString().TrimEnd('/')], appEnvironment, log);
        var app = new AppProcess(process, log, baseUrl, certificateFolder, hash);
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
        using var handler = new HttpClientHandler
        {
            // Trust exactly the certificate this run made, nothing else.
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && certificate.GetCertHashString(HashAlgorithmName.SHA256) == _certificateHash,
        };
        using var http = new HttpClient(handler) { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(10) };
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
                if ((int)response.StatusCode >= 500)
                {
                    // Listening but broken: waiting longer will not help.
                    break;
                }
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
        throw new InvalidOperationException($"GET {BaseUrl}signin did not answer 200 within {StartTimeout.TotalSeconds:F0} s (last: {last}). App output:\n{Output}");
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

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, as a password-protected PFX for Kestrel.</summary>
    private static (string Path, string Password, string Hash) CreateCertificate(string folder)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "app.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, password));
        return (path, password, certificate.GetCertHashString(HashAlgorithmName.SHA256));
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
            if (_certificateFolder is not null && Directory.Exists(_certificateFolder))
            {
                Directory.Delete(_certificateFolder, recursive: true);
            }
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
