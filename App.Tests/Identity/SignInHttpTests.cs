using System.Net;
using AgentSpace.Identity;
using Microsoft.AspNetCore.Hosting;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Identity;

/// <summary>Sign-in, cookies, sessions and security headers as a browser sees them over HTTP.</summary>
public sealed class SignInHttpTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    private readonly HashSet<string> _readMail = [];

    private static string NewEmail() => $"web-{Guid.NewGuid():N}@example.com";

    private static async Task<HttpResponseMessage> RequestLinkAsync(BrowserLikeClient browser, string email)
    {
        var token = await browser.AntiforgeryTokenFromAsync("/signin");
        return await browser.PostFormAsync("/auth/magic-link", new Dictionary<string, string> { ["email"] = email, ["__RequestVerificationToken"] = token });
    }

    /// <summary>Signs in through the emailed link; returns the response to the redeem POST.</summary>
    private async Task<HttpResponseMessage> SignInAsync(BrowserLikeClient browser, string email)
    {
        var requested = await RequestLinkAsync(browser, email);
        Assert.Equal(HttpStatusCode.Redirect, requested.StatusCode);
        var link = new Uri(await app.LinkFromMailAsync(email, "/auth/redeem", _readMail));
        var query = System.Web.HttpUtility.ParseQueryString(link.Query);
        var page = await browser.GetAsync(link.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var af = await browser.AntiforgeryTokenFromAsync(link.PathAndQuery);
        return await browser.PostFormAsync("/auth/redeem", new Dictionary<string, string>
        {
            ["email"] = query["email"]!,
            ["token"] = query["token"]!,
            ["__RequestVerificationToken"] = af,
        });
    }

    /// <summary>A copy of <paramref name="cookie"/> replayed from another client no longer gets in.</summary>
    private async Task AssertCookieRejectedAsync(string cookie)
    {
        using var replay = app.CreateBrowser();
        replay.Cookies[IdentityServiceCollectionExtensions.CookieName] = cookie;
        AssertSentToSignIn(await replay.GetAsync("/orgs"));
    }

    private static void AssertSentToSignIn(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/signin", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_ThroughEmailedLink_SetsHostPrefixedSecureHttpOnlyLaxCookie()
    {
        using var browser = app.CreateBrowser();
        var response = await SignInAsync(browser, NewEmail());
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/orgs", response.Headers.Location!.OriginalString);

        var cookie = browser.SetCookieHeaders.Last(h => h.StartsWith(IdentityServiceCollectionExtensions.CookieName + "=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("; secure", cookie, StringComparison.Ordinal);
        Assert.Contains("; httponly", cookie, StringComparison.Ordinal);
        Assert.Contains("; samesite=lax", cookie, StringComparison.Ordinal);
        Assert.Contains("; path=/", cookie, StringComparison.Ordinal);
        Assert.DoesNotContain("domain=", cookie, StringComparison.Ordinal);

        var orgs = await browser.GetAsync("/orgs");
        Assert.Equal(HttpStatusCode.OK, orgs.StatusCode);
    }

    [Fact]
    public async Task SignIn_ReplacesAnyEarlierCookie_WithAFreshSession()
    {
        var email = NewEmail();
        using var browser = app.CreateBrowser();
        await SignInAsync(browser, email);
        var first = browser.Cookies[IdentityServiceCollectionExtensions.CookieName];
        await SignInAsync(browser, email);
        var second = browser.Cookies[IdentityServiceCollectionExtensions.CookieName];
        Assert.NotEqual(first, second);

        // The earlier session was ended on the server: its cookie no longer works.
        await AssertCookieRejectedAsync(first);
    }

    [Fact]
    public async Task SignInPage_OverPlainHttpInDevelopment_Works()
    {
        // ./run.sh serves http://127.0.0.1:5080; the sign-in form must work there too.
        using var browser = app.CreateBrowser("127.0.0.1", "http");
        var response = await RequestLinkAsync(browser, NewEmail());
        Assert.Equal("/signin/sent", response.Headers.Location!.OriginalString);
        // Even over http every cookie is __Host-, Secure and HttpOnly (browsers accept that from 127.0.0.1).
        Assert.NotEmpty(browser.SetCookieHeaders);
        Assert.All(browser.SetCookieHeaders, h =>
        {
            Assert.StartsWith("__Host-", h, StringComparison.Ordinal);
            Assert.Contains("; secure", h.ToLowerInvariant(), StringComparison.Ordinal);
            Assert.Contains("; httponly", h.ToLowerInvariant(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Unauthenticated_ProtectedPage_RedirectsToSignIn()
    {
        using var browser = app.CreateBrowser();
        AssertSentToSignIn(await browser.GetAsync("/orgs"));
    }

    [Fact]
    public async Task SignOut_EndsSessionOnServer_OldCookieIsRejected()
    {
        using var browser = app.CreateBrowser();
        await SignInAsync(browser, NewEmail());
        var cookie = browser.Cookies[IdentityServiceCollectionExtensions.CookieName];
        var af = await browser.AntiforgeryTokenFromAsync("/account");
        var signOut = await browser.PostFormAsync("/auth/signout", new Dictionary<string, string> { ["__RequestVerificationToken"] = af });
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);

        await AssertCookieRejectedAsync(cookie);
    }

    [Fact]
    public async Task SignOutEverywhere_EndsEveryOtherSession()
    {
        var email = NewEmail();
        using var laptop = app.CreateBrowser();
        using var phone = app.CreateBrowser();
        await SignInAsync(laptop, email);
        await SignInAsync(phone, email);
        Assert.Equal(HttpStatusCode.OK, (await phone.GetAsync("/orgs")).StatusCode);

        var af = await laptop.AntiforgeryTokenFromAsync("/account");
        var response = await laptop.PostFormAsync("/auth/signout-everywhere", new Dictionary<string, string> { ["__RequestVerificationToken"] = af });
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await phone.GetAsync("/orgs")).StatusCode);
    }

    [Fact]
    public async Task RequestLink_KnownAndUnknownEmail_SameResponse()
    {
        var known = NewEmail();
        using (var b = app.CreateBrowser())
        {
            await SignInAsync(b, known);
        }
        using var browser = app.CreateBrowser();
        var a = await RequestLinkAsync(browser, known);
        var b2 = await RequestLinkAsync(browser, NewEmail());
        Assert.Equal(a.StatusCode, b2.StatusCode);
        Assert.Equal(a.Headers.Location, b2.Headers.Location);
        Assert.Equal(await a.Content.ReadAsStringAsync(), await b2.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RequestLink_SixthTimeForOneEmail_IsRateLimited()
    {
        var email = NewEmail();
        using var browser = app.CreateBrowser();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("/signin/sent", (await RequestLinkAsync(browser, email)).Headers.Location!.OriginalString);
        }
        Assert.Equal("/signin?error=rate-limited", (await RequestLinkAsync(browser, email)).Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task RedeemLink_Twice_SecondFails()
    {
        var email = NewEmail();
        using var browser = app.CreateBrowser();
        await RequestLinkAsync(browser, email);
        var link = new Uri(await app.LinkFromMailAsync(email, "/auth/redeem", _readMail));
        var query = System.Web.HttpUtility.ParseQueryString(link.Query);
        var fields = new Dictionary<string, string> { ["email"] = query["email"]!, ["token"] = query["token"]!, ["__RequestVerificationToken"] = await browser.AntiforgeryTokenFromAsync("/signin") };
        Assert.Equal("/orgs", (await browser.PostFormAsync("/auth/redeem", fields)).Headers.Location!.OriginalString);

        using var other = app.CreateBrowser();
        fields["__RequestVerificationToken"] = await other.AntiforgeryTokenFromAsync("/signin");
        Assert.Equal("/signin?error=link", (await other.PostFormAsync("/auth/redeem", fields)).Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task FormPost_WithoutAntiforgeryToken_IsRefused()
    {
        var email = NewEmail();
        using var browser = app.CreateBrowser();
        await browser.GetAsync("/signin");
        var response = await browser.PostFormAsync("/auth/magic-link", new Dictionary<string, string> { ["email"] = email });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await Task.Delay(300);
        var mailed = Directory.Exists(app.MailFolder) && Directory.GetFiles(app.MailFolder).Any(f => File.ReadAllText(f).Contains(email, StringComparison.Ordinal));
        Assert.False(mailed, "a link was sent for a request without an antiforgery token");
    }

    [Fact]
    public async Task EveryResponse_CarriesSecurityHeaders()
    {
        using var browser = app.CreateBrowser();
        foreach (var url in new[] { "/signin", "/orgs", "/does-not-exist", "/app.css" })
        {
            var response = await browser.GetAsync(url);
            var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            Assert.Contains("camera=()", response.Headers.GetValues("Permissions-Policy").Single(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task BlazorHub_CrossOriginHandshake_IsRefused()
    {
        using var browser = app.CreateBrowser();
        var evil = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        evil.Headers.Add("Origin", "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.SendAsync(evil)).StatusCode);

        // The negotiate POST without Origin. (Not the WebSocket handshake without Origin: the in-memory test
        // server sets a WebSocket feature Kestrel does not, so that case is proven on Kestrel in BlazorHubOriginTests.)
        var noOriginNegotiate = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.SendAsync(noOriginNegotiate)).StatusCode);

        // The WebSocket handshake itself, from another site's page.
        var ws = app.Server.CreateWebSocketClient();
        ws.ConfigureRequest = r => r.Headers.Origin = "https://evil.example";
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => ws.ConnectAsync(new Uri("wss://localhost/_blazor?id=probe"), CancellationToken.None));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);

        var same = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        same.Headers.Add("Origin", "https://localhost");
        Assert.Equal(HttpStatusCode.OK, (await browser.SendAsync(same)).StatusCode);
    }
}

/// <summary>Outside Development the app also sends HSTS.</summary>
public sealed class ProductionHeadersTests(ProductionHeadersTests.ProductionFactory app) : IClassFixture<ProductionHeadersTests.ProductionFactory>
{
    public sealed class ProductionFactory : WebAppFactory
    {
        protected override string Environment => "Production";

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // Outside Development the app does not start without it.
            builder.UseSetting("App:PublicBaseUrl", "https://agentspace.example");
        }
    }

    [Fact]
    public async Task Production_HttpsResponse_HasHsts()
    {
        using var browser = app.CreateBrowser("agentspace.example");
        var response = await browser.GetAsync("/signin");
        Assert.Contains("max-age=", response.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/auth/magic-link")]
    [InlineData("/auth/redeem")]
    public async Task Production_FormPostWithStaleToken_AnswersWhyWithoutAFault(string path)
    {
        // A sign-in tab left open while the antiforgery cookie changed posts a token that no longer fits.
        using var stale = app.CreateBrowser("agentspace.example");
        var token = await stale.AntiforgeryTokenFromAsync("/signin");
        using var browser = app.CreateBrowser("agentspace.example");
        await browser.GetAsync("/signin");
        var response = await browser.PostFormAsync(path, new Dictionary<string, string>
        {
            ["email"] = "stale@example.com",
            ["__RequestVerificationToken"] = token,
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("This form has expired", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
