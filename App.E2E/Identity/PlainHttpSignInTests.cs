using AgentSpace.E2E.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Identity;

/// <summary>
/// Local development as <c>./run.sh</c> serves it: plain http://127.0.0.1, no certificate. Every cookie the app
/// sets is <c>__Host-</c> and Secure; Chromium keeps Secure cookies from http://127.0.0.1 (a potentially
/// trustworthy origin), so sign-in, the interactive pages and sign-out work there as over HTTPS.
/// </summary>
public sealed class PlainHttpSignInTests(PlainHttpRunningApp app, ITestOutputHelper output) : IClassFixture<PlainHttpRunningApp>
{
    private const string SessionCookie = "__Host-agentspace";

    [Fact]
    public async Task SignIn_OverPlainHttpOnLoopback_Works()
    {
        var shots = new Screenshots(output, nameof(SignIn_OverPlainHttpOnLoopback_Works));
        Assert.Equal(Uri.UriSchemeHttp, app.BaseUrl.Scheme);
        var slug = "local-" + Guid.NewGuid().ToString("N")[..8];
        const string orgName = "Local Dev Labs";

        var user = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("local"));
        await user.SignInAsync(shots);
        Assert.StartsWith(app.BaseUrl.ToString(), user.Page.Url, StringComparison.Ordinal);
        await shots.TakeAsync(user.Page, "orgs");

        var cookies = await user.Page.Context.CookiesAsync();
        var session = Assert.Single(cookies, c => c.Name == SessionCookie);
        Assert.True(session.Secure, $"{SessionCookie} is not Secure");
        Assert.True(session.HttpOnly, $"{SessionCookie} is not HttpOnly");
        Assert.Equal(SameSiteAttribute.Lax, session.SameSite);
        Assert.Equal("/", session.Path);

        await user.CreateOrganizationAsync(orgName, slug);
        await shots.TakeAsync(user.Page, "org-dashboard");

        await user.GotoAsync($"/o/{slug}/members");
        await Expect(user.Page).ToHaveURLAsync(UserBrowser.PathPattern($"/o/{slug}/members"));
        await Expect(user.Page.Locator("h1")).ToHaveTextAsync("Members");
        // The page's data came over the circuit: the owner is listed.
        await Expect(user.Page.GetByRole(AriaRole.Table, new() { Name = "Members" })).ToContainTextAsync(user.Email);
        await shots.TakeAsync(user.Page, "members");

        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Account menu" }).ClickAsync();
        await user.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(user.Page.GetByText("You are signed out.")).ToBeVisibleAsync();
        await shots.TakeAsync(user.Page, "signed-out");

        Assert.DoesNotContain(await user.Page.Context.CookiesAsync(), c => c.Name == SessionCookie);
    }
}
