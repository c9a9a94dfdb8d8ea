using System.Net;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Identity;

/// <summary>The return URL after sign-in: only a plain local path survives; anything a browser could turn into another site is dropped, and signing in still works.</summary>
public sealed class ReturnUrlTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    private readonly HashSet<string> _readMail = [];

    private static string NewEmail() => $"return-{Guid.NewGuid():N}@example.com";

    /// <summary>Requests a link carrying <paramref name="returnUrl"/>, then redeems it posting <paramref name="returnUrl"/> again (as a forged form would).</summary>
    private async Task<(Uri MailedLink, HttpResponseMessage Redeemed, BrowserLikeClient Browser)> SignInWithReturnUrlAsync(string returnUrl)
    {
        var email = NewEmail();
        var browser = app.CreateBrowser();
        var requested = await WebAppFactory.RequestLinkAsync(browser, email, returnUrl);
        Assert.Equal("/signin/sent", requested.Headers.Location?.OriginalString);
        var link = new Uri(await app.LinkFromMailAsync(email, "/auth/redeem", _readMail));
        var query = System.Web.HttpUtility.ParseQueryString(link.Query);
        var redeemed = await browser.PostFormAsync("/auth/redeem", new Dictionary<string, string>
        {
            ["email"] = query["email"]!,
            ["token"] = query["token"]!,
            ["returnUrl"] = returnUrl,
            ["__RequestVerificationToken"] = await browser.AntiforgeryTokenFromAsync("/signin"),
        });
        return (link, redeemed, browser);
    }

    [Theory]
    [InlineData("/\t/evil.example")]
    [InlineData("/\r/evil.example")]
    [InlineData("/\n/evil.example")]
    [InlineData("/orgs\\..\\\\evil.example")]
    [InlineData("/\\evil.example")]
    [InlineData("/%2F%2Fevil.example")]
    [InlineData("/%2f/evil.example")]
    [InlineData("/%5C/evil.example")]
    [InlineData("/%5cevil.example")]
    [InlineData("/%09/evil.example")]
    [InlineData("/%0A/evil.example")]
    [InlineData("/%0D/evil.example")]
    [InlineData("/%252F%252Fevil.example")]
    [InlineData("//evil.example")]
    [InlineData("https://evil.example/")]
    public async Task SignIn_UnsafeReturnUrl_IsDroppedAndSignInSucceeds(string returnUrl)
    {
        var (link, redeemed, browser) = await SignInWithReturnUrlAsync(returnUrl);
        using (browser)
        {
            Assert.Null(System.Web.HttpUtility.ParseQueryString(link.Query)["returnUrl"]);
            Assert.Equal(HttpStatusCode.Redirect, redeemed.StatusCode);
            Assert.Equal("/orgs", redeemed.Headers.Location!.OriginalString);
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/orgs")).StatusCode);
        }
    }

    [Fact]
    public async Task SignIn_LocalReturnUrl_IsKeptInLinkAndFollowed()
    {
        const string target = "/o/acme/audit?actor=a%40example.com";
        var (link, redeemed, browser) = await SignInWithReturnUrlAsync(target);
        using (browser)
        {
            Assert.Equal(target, System.Web.HttpUtility.ParseQueryString(link.Query)["returnUrl"]);
            Assert.Equal(HttpStatusCode.Redirect, redeemed.StatusCode);
            Assert.Equal(target, redeemed.Headers.Location!.OriginalString);
        }
    }

    [Fact]
    public async Task SignInPage_UnsafeReturnUrlInQuery_IsNotCarriedIntoTheForm()
    {
        using var browser = app.CreateBrowser();
        var html = await (await browser.GetAsync("/signin?returnUrl=%2F%09%2Fevil.example")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil.example", html, StringComparison.Ordinal);
    }
}
