using System.Globalization;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Playwright;
using Npgsql;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>
/// One test class's world: a fresh database, App.dll migrated and running against it with mail going
/// to a pickup folder, and a headless Chromium. Each user gets their own browser context (own cookies).
/// Served over HTTPS unless a derived fixture says otherwise (<see cref="PlainHttpRunningApp"/>).
/// </summary>
public class RunningApp : IAsyncLifetime
{
    private const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private TestDatabase? _database;
    private readonly string _logName = $"{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
    private AppProcess? _app;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public string MailFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-e2e-mail-" + Guid.NewGuid().ToString("N"));

    /// <summary>This app's own upload folder (each app sweeps its folder at start).</summary>
    public string KnowledgeFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-e2e-knowledge-" + Guid.NewGuid().ToString("N"));

    public Mailbox Mailbox { get; }

    public RunningApp() => Mailbox = new Mailbox(MailFolder);

    public Uri BaseUrl => App.BaseUrl;

    public AppProcess App => _app ?? throw new InvalidOperationException("Not initialized");

    public TestDatabase Database => _database ?? throw new InvalidOperationException("Not initialized");

    private IBrowser Browser => _browser ?? throw new InvalidOperationException("Not initialized");

    /// <summary>False: plain http://127.0.0.1 without a certificate, as <c>./run.sh</c> serves it.</summary>
    protected virtual bool UseHttps => true;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Default"] = _database.AppConnectionString,
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Email__PickupDirectory"] = MailFolder,
            ["Knowledge__TempDirectory"] = KnowledgeFolder,
            // Every sign-in of a run comes from 127.0.0.1.
            ["SignIn__MaxRequestsPerIp"] = "1000",
            ["SignIn__MaxAuthPostsPerIpPerMinute"] = "1000",
            // A throwaway vault master key, so Development does not create .data/vault-master.key in the repository.
            ["Vault__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        };
        await AppProcess.MigrateAsync(environment);
        _app = await AppProcess.StartAsync(environment, UseHttps);

        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: apt-get install -y chromium");
        }
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
        // Blazor Server re-renders over a WebSocket after each action: allow for a slow machine.
        Assertions.SetDefaultExpectTimeout(10_000);
    }

    /// <summary>A new browser context (its own cookies: one signed-in user) and a page in it.</summary>
    public async Task<IPage> NewUserPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl.ToString(),
            // The app's own throwaway self-signed certificate (see AppProcess); nothing to ignore over plain HTTP.
            IgnoreHTTPSErrors = UseHttps,
            Locale = "en-US",
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }
        _playwright?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
            // Kept beside the screenshots: the server side of whatever a test saw.
            var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;
            await File.WriteAllTextAsync(Path.Combine(folder, $"app-output-{_logName}.log"), _app.FullOutput);
        }
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        if (Directory.Exists(MailFolder))
        {
            Directory.Delete(MailFolder, recursive: true);
        }
        if (Directory.Exists(KnowledgeFolder))
        {
            Directory.Delete(KnowledgeFolder, recursive: true);
        }
    }

    /// <summary>
    /// Runs one statement as superuser on the app's database: what no page can do (suspend an account, tamper
    /// with a row). Parameters are bound by name (<c>@email</c>), never spliced into the text.
    /// </summary>
    public async Task<int> ExecuteAsSuperuserAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var conn = new NpgsqlConnection(Database.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = Command(conn, sql, parameters);
        return await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The first column of the first row, as superuser (see <see cref="ExecuteAsSuperuserAsync"/>); default when there is none.</summary>
    public async Task<T?> ScalarAsSuperuserAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var conn = new NpgsqlConnection(Database.AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = Command(conn, sql, parameters);
        return await cmd.ExecuteScalarAsync() is T value ? value : default;
    }

    private static NpgsqlCommand Command(NpgsqlConnection conn, string sql, (string Name, object Value)[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, conn);
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        return cmd;
    }

    /// <summary>A unique address per call, so tests in a class never share an account.</summary>
    public static string NewEmail(string who) =>
        string.Create(CultureInfo.InvariantCulture, $"{who}-{Guid.NewGuid().ToString("N")[..8]}@example.test");
}
