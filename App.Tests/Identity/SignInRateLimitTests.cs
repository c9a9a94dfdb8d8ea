using System.Net;
using AgentSpace.Email;
using AgentSpace.Identity;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace AgentSpace.Tests.Identity;

/// <summary>A platform-wide ceiling of sign-in mails per window, whatever addresses and clients ask.</summary>
public sealed class GlobalCeilingServices : AppServices
{
    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["SignIn:MaxRequestsGlobalPerWindow"] = "12",
    };
}

public sealed class SignInGlobalCeilingTests(GlobalCeilingServices app) : IClassFixture<GlobalCeilingServices>
{
    private Task<MagicLinkRequestResult> RequestAsync(string email, string ip) =>
        app.WithAsync<MagicLinkService, MagicLinkRequestResult>(s => s.RequestAsync(email, ip, null, default));

    [Fact]
    public async Task Request_GlobalCeilingReached_IsRateLimitedForEveryone()
    {
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"g{i}-{Guid.NewGuid():N}@example.com", $"198.51.100.{i + 1}"));
        }
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestAsync($"fresh-{Guid.NewGuid():N}@example.com", "203.0.113.77"));
        app.Clock.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"later-{Guid.NewGuid():N}@example.com", "203.0.113.77"));
    }
}

/// <summary>The app over HTTP with the built-in per-client limiter on /auth posts set low.</summary>
public sealed class AuthPostLimitFactory : WebAppFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("SignIn:MaxAuthPostsPerIpPerMinute", "5");
    }
}

public sealed class AuthPostLimitTests(AuthPostLimitFactory app) : IClassFixture<AuthPostLimitFactory>
{
    [Fact]
    public async Task AuthPosts_OverThePerClientLimit_AreRefusedBeforeTheyReachTheAuditLog()
    {
        using var browser = app.CreateBrowser();
        var token = await browser.AntiforgeryTokenFromAsync("/signin");
        var before = await app.Database.ScalarAsAdminAsync<long>("select count(*) from platform.audit_events");
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            // Each to a fresh address, so the per-address limit never applies.
            var response = await browser.PostFormAsync("/auth/magic-link", new Dictionary<string, string>
            {
                ["email"] = $"flood-{i}-{Guid.NewGuid():N}@example.com",
                ["__RequestVerificationToken"] = token,
            });
            statuses.Add(response.StatusCode);
        }
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.Redirect));
        Assert.Equal(15, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        var after = await app.Database.ScalarAsAdminAsync<long>("select count(*) from platform.audit_events");
        Assert.True(after - before <= 5, $"{after - before} audit rows for 5 admitted requests");

        // Redeem and sign-out are behind the same limit.
        var redeem = await browser.PostFormAsync("/auth/redeem", new Dictionary<string, string> { ["__RequestVerificationToken"] = token });
        Assert.Equal(HttpStatusCode.TooManyRequests, redeem.StatusCode);
    }
}

/// <summary>A mail server that accepts nothing until the test lets it: the queue in front of it fills up.</summary>
public sealed class StalledMailFactory : WebAppFactory
{
    public StalledSender Sender { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s => s.AddSingleton<IEmailSender>(Sender));
    }

    public sealed class StalledSender : IEmailSender
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Sent { get; } = [];

        public void Open() => _open.TrySetResult();

        public async Task SendAsync(EmailMessage message, CancellationToken ct)
        {
            await _open.Task.WaitAsync(ct);
            lock (Sent)
            {
                Sent.Add(message.To);
            }
        }
    }
}

public sealed class EmailQueueFullTests(StalledMailFactory app) : IClassFixture<StalledMailFactory>
{
    [Fact]
    public async Task RequestLink_EmailQueueFull_ShowsAnErrorNotSent()
    {
        var queue = app.Services.GetRequiredService<EmailQueue>();
        var filler = new EmailMessage("filler@example.com", "filler", "filler", "<p>filler</p>");
        // Filled twice: the sender takes the first message off the queue (and hangs on it) a moment after it arrives.
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 5000 && queue.Enqueue(filler); i++)
            {
            }
            await Task.Delay(200);
        }
        Assert.False(queue.Enqueue(filler));

        var email = $"queued-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser();
        var response = await WebAppFactory.RequestLinkAsync(browser, email);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        Assert.NotEqual("/signin/sent", location);
        var page = await (await browser.GetAsync(location)).Content.ReadAsStringAsync();
        Assert.Contains("could not send", page, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("try again in a few minutes", page, StringComparison.OrdinalIgnoreCase);

        // The refused request did not use up the address's allowance: once mail flows again, it works.
        app.Sender.Open();
        for (var i = 0; i < 100 && queue.Enqueue(filler) is false; i++)
        {
            await Task.Delay(100);
        }
        Assert.Equal("/signin/sent", (await WebAppFactory.RequestLinkAsync(browser, email)).Headers.Location?.OriginalString);
    }
}

/// <summary>50 requests for one address at once, over HTTP: the count-then-insert is serialized.</summary>
public sealed class ParallelSignInHttpTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    [Fact]
    public async Task RequestLink_FiftyParallelPostsForOneAddress_SendAtMostFiveMails()
    {
        var email = $"parallel-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser();
        var token = await browser.AntiforgeryTokenFromAsync("/signin");
        var cookie = string.Join("; ", browser.Cookies.Select(c => $"{c.Key}={c.Value}"));
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/auth/magic-link")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = email, ["__RequestVerificationToken"] = token }),
            };
            request.Headers.Add("Cookie", cookie);
            using var response = await browser.Http.SendAsync(request);
            return response.Headers.Location?.OriginalString;
        }));
        Assert.Equal(5, responses.Count(r => r == "/signin/sent"));
        Assert.Equal(45, responses.Count(r => r == "/signin?error=rate-limited"));

        await Task.Delay(1000);
        var mails = 0;
        foreach (var file in Directory.Exists(app.MailFolder) ? Directory.GetFiles(app.MailFolder, "*.eml") : [])
        {
            using var message = await MimeMessage.LoadAsync(file);
            mails += message.To.Mailboxes.Count(m => m.Address == email);
        }
        Assert.Equal(5, mails);
    }
}
