using System.Net;
using AgentSpace.Identity;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Identity;

/// <summary>Another site cannot sign a user out: every /auth POST needs the antiforgery token, even those that bind no form field.</summary>
public sealed class SignOutAntiforgeryTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    private readonly HashSet<string> _readMail = [];

    private async Task<BrowserLikeClient> SignedInAsync()
    {
        var browser = app.CreateBrowser();
        await app.SignInAsync(browser, $"csrf-{Guid.NewGuid():N}@example.com", _readMail);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/orgs")).StatusCode);
        return browser;
    }

    /// <summary>A cross-site form post: only the session cookie rides along (SameSite=Lax would stop it, an older browser or a same-site attacker would not).</summary>
    private static async Task<HttpResponseMessage> CrossSitePostAsync(BrowserLikeClient browser, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(new Dictionary<string, string>()) };
        request.Headers.Add("Origin", "http://evil.example");
        request.Headers.Add("Cookie", $"{IdentityServiceCollectionExtensions.CookieName}={browser.Cookies[IdentityServiceCollectionExtensions.CookieName]}");
        return await browser.Http.SendAsync(request);
    }

    [Theory]
    [InlineData("/auth/signout")]
    [InlineData("/auth/signout-everywhere")]
    public async Task SignOut_WithoutAntiforgeryToken_IsRefusedAndSessionStays(string path)
    {
        using var browser = await SignedInAsync();
        var response = await CrossSitePostAsync(browser, path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(IdentityServiceCollectionExtensions.CookieName + "=;", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/orgs")).StatusCode);
    }

    [Theory]
    [InlineData("/auth/signout")]
    [InlineData("/auth/signout-everywhere")]
    public async Task SignOut_WithTokenFromTheAccountPage_Works(string path)
    {
        using var browser = await SignedInAsync();
        var token = await browser.AntiforgeryTokenFromAsync("/account");
        var response = await browser.PostFormAsync(path, new Dictionary<string, string> { ["__RequestVerificationToken"] = token });
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/signin?signedout=", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/orgs")).StatusCode);
    }

    [Fact]
    public async Task SignOutForm_OnAccountPage_CarriesTheToken()
    {
        using var browser = await SignedInAsync();
        var html = await (await browser.GetAsync("/account")).Content.ReadAsStringAsync();
        var forms = System.Text.RegularExpressions.Regex.Matches(html, "<form[^>]*action=\"/auth/signout\"[^>]*>(.*?)</form>", System.Text.RegularExpressions.RegexOptions.Singleline);
        // The account menu and the confirm dialog render their forms only when opened; the page's own form is here.
        Assert.NotEmpty(forms);
        Assert.All(forms, f => Assert.Contains("__RequestVerificationToken", f.Groups[1].Value, StringComparison.Ordinal));
    }
}
