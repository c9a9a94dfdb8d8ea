using System.Net;
using AgentSpace.Hosting;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using AppIdentity = AgentSpace.Identity.IdentityServiceCollectionExtensions;

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
        request.Headers.Add("Cookie", $"{AppIdentity.CookieName}={browser.Cookies[AppIdentity.CookieName]}");
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
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(AppIdentity.CookieName + "=;", StringComparison.Ordinal)));
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

    /// <summary>A gate for endpoints to come: every POST endpoint either is a Blazor page (which checks form posts itself) or enforces the token.</summary>
    [Fact]
    public void EveryPostEndpoint_EnforcesTheAntiforgeryToken()
    {
        var posts = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains("POST") == true)
            .Where(e => e.Metadata.GetMetadata<ComponentTypeMetadata>() is null)
            // The Blazor hub is refused cross-origin by UseSameOriginBlazorHub (BlazorHubOriginTests).
            .Where(e => e.RoutePattern.RawText?.StartsWith("/_blazor", StringComparison.Ordinal) != true)
            // Inbound webhooks carry no cookie and are authenticated by their HMAC signature alone (WebhookEndpointTests).
            .Where(e => e.RoutePattern.RawText?.StartsWith("/hooks/", StringComparison.Ordinal) != true)
            .ToList();
        Assert.NotEmpty(posts);
        Assert.All(posts, e => Assert.True(e.Metadata.GetMetadata<AntiforgeryEnforced>() is not null, $"{e.RoutePattern.RawText} does not enforce the antiforgery token"));
    }
}
