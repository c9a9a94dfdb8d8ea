using System.Net;
using System.Text.RegularExpressions;
using AgentSpace.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace AgentSpace.Tests.Infrastructure;

/// <summary>The whole app (middleware, endpoints, pages) over a fresh database, driven through HTTP.</summary>
public partial class WebAppFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    private TestDatabase? _database;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("Not initialized");
    public string MailFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-web-mail-" + Guid.NewGuid().ToString("N"));
    public string KnowledgeFolder { get; } = Path.Combine(Path.GetTempPath(), "agentspace-web-knowledge-" + Guid.NewGuid().ToString("N"));
    protected virtual string Environment => "Development";

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        await Services.GetRequiredService<SchemaMigrator>().MigratePlatformAsync(CancellationToken.None);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
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

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(Environment);
        builder.UseSetting("ConnectionStrings:Default", Database.AppConnectionString);
        builder.UseSetting("Email:PickupDirectory", MailFolder);
        builder.UseSetting("Knowledge:TempDirectory", KnowledgeFolder);
        // Tests read sign-in links from the pickup folder, in every environment.
        builder.UseSetting("Email:AllowPickupDirectory", "true");
        builder.UseSetting("Email:Smtp:Host", "");
        builder.UseSetting("SignIn:MaxRequestsPerIp", "1000");
        // Every test request comes from one address; the per-address limits have their own tests.
        builder.UseSetting("SignIn:MaxAuthPostsPerIpPerMinute", "100000");
        // A throwaway vault master key, so Development does not create its key file in the source tree.
        // The workflow scheduler is a cluster member with threads of its own; the HTTP tests store runs and leave
        // running them to the workflow tests (WorkflowFixture), so none is cut off when the app stops.
        builder.UseSetting("Workflows:Scheduler:Enabled", "false");
        builder.UseSetting("Vault:MasterKey", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
    }

    /// <summary>POSTs the sign-in form for <paramref name="email"/> (with a fresh antiforgery token) and returns the answer.</summary>
    public static async Task<HttpResponseMessage> RequestLinkAsync(BrowserLikeClient browser, string email, string? returnUrl = null)
    {
        ArgumentNullException.ThrowIfNull(browser);
        var fields = new Dictionary<string, string> { ["email"] = email, ["__RequestVerificationToken"] = await browser.AntiforgeryTokenFromAsync("/signin") };
        if (returnUrl is not null)
        {
            fields["returnUrl"] = returnUrl;
        }
        return await browser.PostFormAsync("/auth/magic-link", fields);
    }

    /// <summary>Signs in through the emailed link, as a browser does; returns the answer to the redeem POST.</summary>
    public async Task<HttpResponseMessage> SignInAsync(BrowserLikeClient browser, string email, ISet<string> readMail)
    {
        ArgumentNullException.ThrowIfNull(browser);
        var requested = await RequestLinkAsync(browser, email);
        if (requested.StatusCode != HttpStatusCode.Redirect || requested.Headers.Location?.OriginalString != "/signin/sent")
        {
            throw new InvalidOperationException($"Requesting a link for {email} answered {(int)requested.StatusCode} {requested.Headers.Location}");
        }
        var link = new Uri(await LinkFromMailAsync(email, "/auth/redeem", readMail));
        var query = System.Web.HttpUtility.ParseQueryString(link.Query);
        return await browser.PostFormAsync("/auth/redeem", new Dictionary<string, string>
        {
            ["email"] = query["email"]!,
            ["token"] = query["token"]!,
            ["__RequestVerificationToken"] = await browser.AntiforgeryTokenFromAsync(link.PathAndQuery),
        });
    }

    /// <summary>A client that keeps cookies itself (https base address, so Secure cookies flow) and does not follow redirects.</summary>
    public BrowserLikeClient CreateBrowser(string host = "localhost", string scheme = "https") =>
        new(CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false, BaseAddress = new Uri($"{scheme}://{host}") }));

    public async Task<string> LinkFromMailAsync(string email, string pathPrefix, ISet<string>? alreadyRead = null)
    {
        for (var i = 0; i < 100; i++)
        {
            if (Directory.Exists(MailFolder))
            {
                foreach (var file in Directory.GetFiles(MailFolder, "*.eml").Order(StringComparer.Ordinal))
                {
                    if (alreadyRead?.Contains(file) == true)
                    {
                        continue;
                    }
                    using var message = await MimeMessage.LoadAsync(file);
                    var m = LinkPattern().Match(message.TextBody ?? "");
                    while (m.Success)
                    {
                        if (message.To.Mailboxes.Any(x => x.Address == email) && new Uri(m.Value).AbsolutePath == pathPrefix)
                        {
                            alreadyRead?.Add(file);
                            return m.Value;
                        }
                        m = m.NextMatch();
                    }
                }
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"No email with {pathPrefix} for {email}");
    }

    [GeneratedRegex(@"https?://\S+")]
    private static partial Regex LinkPattern();
}

/// <summary>An HttpClient wrapper that carries cookies the way a browser does (including Secure ones) and reads antiforgery tokens from pages.</summary>
public sealed partial class BrowserLikeClient(HttpClient client) : IDisposable
{
    public Dictionary<string, string> Cookies { get; } = new(StringComparer.Ordinal);
    public List<string> SetCookieHeaders { get; } = [];
    public HttpClient Http => client;

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Cookies.Count > 0)
        {
            request.Headers.Add("Cookie", string.Join("; ", Cookies.Select(c => $"{c.Key}={c.Value}")));
        }
        var response = await client.SendAsync(request);
        if (response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            foreach (var header in values)
            {
                SetCookieHeaders.Add(header);
                var pair = header.Split(';')[0];
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var name = pair[..eq];
                var value = pair[(eq + 1)..];
                if (string.IsNullOrEmpty(value) || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                {
                    Cookies.Remove(name);
                }
                else
                {
                    Cookies[name] = value;
                }
            }
        }
        return response;
    }

    public Task<HttpResponseMessage> GetAsync(string url) => SendAsync(new HttpRequestMessage(HttpMethod.Get, url));

    public Task<HttpResponseMessage> PostFormAsync(string url, IDictionary<string, string> fields) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, url) { Content = new FormUrlEncodedContent(fields) });

    /// <summary>GETs a page and returns the antiforgery token rendered into its form.</summary>
    public async Task<string> AntiforgeryTokenFromAsync(string url)
    {
        var response = await GetAsync(url);
        var html = await response.Content.ReadAsStringAsync();
        var m = TokenPattern().Match(html);
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException($"No antiforgery token on {url} ({(int)response.StatusCode})");
    }

    public void Dispose() => client.Dispose();

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
