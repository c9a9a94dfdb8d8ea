using System.Diagnostics;
using System.Globalization;
using AgentSpace.E2E.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Identity;

/// <summary>
/// An open window does not outlive its session: the app re-checks every open circuit's session every
/// few seconds (SignIn:SessionRevalidationSeconds, 10 in appsettings.json) and sends a window whose session
/// has ended to the sign-in page, without the user touching it.
/// </summary>
public sealed class SessionRevalidationTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    // The revalidation interval (10 s) plus ample slack for a slow machine.
    private const float RedirectTimeoutMs = 30_000;

    [Fact]
    public async Task SignOutEverywhere_OpenCircuitElsewhere_IsEndedWithin30Seconds()
    {
        var shots = new Screenshots(output, nameof(SignOutEverywhere_OpenCircuitElsewhere_IsEndedWithin30Seconds));
        var email = RunningApp.NewEmail("everywhere");

        // Browser A: signed in, left open on /orgs with its circuit live.
        var first = await UserBrowser.OpenAsync(app, email);
        await first.SignInAsync(shots);
        await Expect(first.Page.GetByRole(AriaRole.Button, new() { Name = "Account menu" })).ToBeVisibleAsync();
        await shots.TakeAsync(first.Page, "a-open-orgs");

        // Browser B: the same person on another device, with a link of its own.
        var second = await UserBrowser.OpenAsync(app, email);
        await second.SignInAsync(shots);
        await second.GotoAsync("/account");
        await second.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out everywhere", Exact = true }).ClickAsync();
        await Expect(second.Page.GetByRole(AriaRole.Dialog)).ToContainTextAsync("Every session of your account ends");
        await shots.TakeAsync(second.Page, "b-confirm-sign-out-everywhere");
        await second.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out all sessions", Exact = true }).ClickAsync();
        await Expect(second.Page).ToHaveURLAsync(UserBrowser.PathPattern("/signin"));
        await Expect(second.Page.GetByText("You are signed out on every device and browser.")).ToBeVisibleAsync();
        await shots.TakeAsync(second.Page, "b-signed-out-everywhere");

        // A is not touched: its circuit notices on its own.
        var seconds = await WaitForSignInPageAsync(first.Page, "sign-out everywhere");
        await shots.TakeAsync(first.Page, "a-sent-to-signin");
        // Its cookie no longer counts either: the sign-in page does not greet it as signed in.
        await Expect(first.Page.GetByText("You are signed in as")).ToHaveCountAsync(0);
        Assert.InRange(seconds, 0, RedirectTimeoutMs / 1000);

        await first.Page.GotoAsync("/orgs");
        await Expect(first.Page).ToHaveURLAsync(UserBrowser.PathPattern("/signin"));
    }

    [Fact]
    public async Task SuspendedAccount_OpenCircuit_IsEndedWithin30Seconds()
    {
        var shots = new Screenshots(output, nameof(SuspendedAccount_OpenCircuit_IsEndedWithin30Seconds));
        var user = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("suspended"));
        await user.SignInAsync(shots);
        await Expect(user.Page.GetByRole(AriaRole.Button, new() { Name = "Account menu" })).ToBeVisibleAsync();
        await shots.TakeAsync(user.Page, "open-orgs");

        // An operator suspends the account (no page for that): straight in the database.
        var suspended = await app.ExecuteAsSuperuserAsync(
            "update platform.users set suspended_at = now() where normalized_email = @email", ("email", user.Email));
        Assert.Equal(1, suspended);

        var seconds = await WaitForSignInPageAsync(user.Page, "suspension");
        await shots.TakeAsync(user.Page, "sent-to-signin");
        Assert.InRange(seconds, 0, RedirectTimeoutMs / 1000);

        // A new link is sent (the page says the same for every address) but does not sign a suspended account in.
        await user.ConfirmNewSignInLinkAsync(shots);
        await Expect(user.Page).ToHaveURLAsync(UserBrowser.PathPattern("/signin"));
        await Expect(user.Page.GetByRole(AriaRole.Alert)).ToContainTextAsync("That sign-in link has expired or was already used");
        await shots.TakeAsync(user.Page, "new-link-refused");

        await user.Page.GotoAsync("/orgs");
        await Expect(user.Page).ToHaveURLAsync(UserBrowser.PathPattern("/signin"));
    }

    /// <summary>
    /// Waits, without touching the page, until it has navigated to /signin; prints and returns how long that took.
    /// Waits for the navigation event itself (not a polled assertion), so the time is exact.
    /// </summary>
    private async Task<double> WaitForSignInPageAsync(IPage page, string cause)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await page.WaitForURLAsync(UserBrowser.PathPattern("/signin"), new() { Timeout = RedirectTimeoutMs, WaitUntil = WaitUntilState.Commit });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"After {cause}, the open page stayed on {page.Url} for {RedirectTimeoutMs / 1000:F0} s.");
        }
        var seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"After {cause}, the open page reached /signin in {seconds:F1} s."));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Exact = true })).ToBeVisibleAsync();
        return seconds;
    }
}
