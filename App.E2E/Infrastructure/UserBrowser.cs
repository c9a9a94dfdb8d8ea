using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>One person at their own browser (own context, own cookies), doing what they would do.</summary>
public sealed class UserBrowser
{
    private readonly RunningApp _app;
    private readonly BlazorCircuit _circuit;

    private UserBrowser(RunningApp app, IPage page, string email)
    {
        _app = app;
        Page = page;
        Email = email;
        _circuit = BlazorCircuit.Watch(page);
    }

    public IPage Page { get; }

    public string Email { get; }

    public static async Task<UserBrowser> OpenAsync(RunningApp app, string email)
    {
        ArgumentNullException.ThrowIfNull(app);
        return new UserBrowser(app, await app.NewUserPageAsync(), email);
    }

    /// <summary>Asks for a sign-in link, opens it from the emailed message and confirms; ends on /orgs.</summary>
    public async Task SignInAsync(Screenshots shots)
    {
        // The sign-in pages are static (no circuit): the next circuit is the one /orgs opens.
        var previous = _circuit.Mark();
        await ConfirmNewSignInLinkAsync(shots);
        await Expect(Page).ToHaveURLAsync(PathPattern("/orgs"));
        await _circuit.WaitUntilInteractiveAsync(previous);
    }

    /// <summary>
    /// Asks for a sign-in link, opens it from the emailed message and presses "Sign in". Where that lands
    /// (/orgs, or back on /signin with an error) is the caller's to check.
    /// </summary>
    public async Task ConfirmNewSignInLinkAsync(Screenshots shots)
    {
        ArgumentNullException.ThrowIfNull(shots);
        await Page.GotoAsync("/signin");
        await Page.GetByLabel("Email", new() { Exact = true }).FillAsync(Email);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Send sign-in link" }).ClickAsync();
        await Expect(Page.GetByText("Check your email")).ToBeVisibleAsync();
        await shots.TakeAsync(Page, "check-your-email");

        var mail = await _app.Mailbox.WaitForAsync(Email, "sign-in link");
        var link = Mailbox.LinkStartingWith(mail, new Uri(_app.BaseUrl, "/auth/redeem?").ToString());
        await Page.GotoAsync(link.ToString());
        await shots.TakeAsync(Page, "redeem-link");
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
    }

    /// <summary>Full page load of an interactive page, then waits for its circuit.</summary>
    public async Task GotoAsync(string pathAndQuery)
    {
        var previous = _circuit.Mark();
        await Page.GotoAsync(pathAndQuery);
        await _circuit.WaitUntilInteractiveAsync(previous);
    }

    /// <summary>On /orgs: creates an organization with this name and address (slug); ends on its home page.</summary>
    public async Task CreateOrganizationAsync(string name, string slug)
    {
        await FillAsync(Page.GetByLabel("Name", new() { Exact = true }), name);
        // The address is suggested from the name as it is typed; replace it with ours.
        await FillAsync(Page.GetByLabel("Address", new() { Exact = true }), slug);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Create organization" }).ClickAsync();

        await Expect(Page).ToHaveURLAsync(PathPattern($"/o/{slug}"));
        await Expect(Page.Locator("h1")).ToContainTextAsync(name);
    }

    /// <summary>Waits until the circuit is quiet: the server has handled the last click or keystroke and its re-render arrived.</summary>
    public Task WaitUntilIdleAsync() => _circuit.WaitUntilIdleAsync();

    /// <summary>
    /// Fills a Blazor-bound input and leaves it (so a bind-on-change reaches the server), then waits for the
    /// server's re-render: a late render caused by the previous field must not overwrite the next one.
    /// </summary>
    public async Task FillAsync(ILocator input, string value)
    {
        ArgumentNullException.ThrowIfNull(input);
        await input.FillAsync(value);
        await input.PressAsync("Tab");
        await _circuit.WaitUntilIdleAsync();
        await Expect(input).ToHaveValueAsync(value);
    }

    /// <summary>
    /// The page's URL is exactly <paramref name="path"/> (any query string or fragment aside). No RegexOptions:
    /// Playwright passes the pattern to the browser and supports only the flags JavaScript has.
    /// </summary>
    public static Regex PathPattern(string path) =>
        new("^https?://[^/]+" + Regex.Escape(path) + "/?([?#].*)?$");
}
