using System.Text.RegularExpressions;
using AgentSpace.E2E.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace AgentSpace.E2E.Tenancy;

/// <summary>
/// The product's acceptance flow in a real browser against the real app: sign in by emailed link, create
/// an organization, invite a colleague by email, and the colleague joins through the emailed invitation.
/// </summary>
public sealed class InviteFlowTests(RunningApp app, ITestOutputHelper output) : IClassFixture<RunningApp>
{
    [Fact]
    public async Task Invitation_AcceptedByInvitee_JoinsOrganization()
    {
        var shots = new Screenshots(output, nameof(Invitation_AcceptedByInvitee_JoinsOrganization));
        var slug = NewSlug();
        const string orgName = "Acme Research";

        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await shots.TakeAsync(owner.Page, "owner-orgs");
        await owner.CreateOrganizationAsync(orgName, slug);
        await shots.TakeAsync(owner.Page, "org-created");

        var inviteeEmail = RunningApp.NewEmail("invitee");
        await InviteAsync(owner, slug, inviteeEmail);
        await shots.TakeAsync(owner.Page, "invitation-pending");

        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Account menu" }).ClickAsync();
        await owner.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(owner.Page.GetByText("You are signed out.")).ToBeVisibleAsync();
        await shots.TakeAsync(owner.Page, "owner-signed-out");

        // The invitee at their own browser: nothing shared with the owner's session.
        var invitee = await UserBrowser.OpenAsync(app, inviteeEmail);
        await invitee.SignInAsync(shots);
        await OpenInvitationAsync(invitee, orgName);
        await shots.TakeAsync(invitee.Page, "invitation");
        await invitee.Page.GetByRole(AriaRole.Button, new() { Name = "Accept invitation" }).ClickAsync();

        await Expect(invitee.Page).ToHaveURLAsync(UserBrowser.PathPattern($"/o/{slug}"));
        await Expect(invitee.Page.Locator("h1")).ToContainTextAsync(orgName);
        await shots.TakeAsync(invitee.Page, "invitee-in-org");
    }

    [Fact]
    public async Task Invitation_ForwardedToOtherAccount_ShowsErrorAndDoesNotJoin()
    {
        var shots = new Screenshots(output, nameof(Invitation_ForwardedToOtherAccount_ShowsErrorAndDoesNotJoin));
        var slug = NewSlug();
        const string orgName = "Forwarded Labs";

        var owner = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("owner"));
        await owner.SignInAsync(shots);
        await owner.CreateOrganizationAsync(orgName, slug);
        var invitedEmail = RunningApp.NewEmail("invited");
        await InviteAsync(owner, slug, invitedEmail);

        // The invited person forwards the email; someone signed in with another address opens it.
        var other = await UserBrowser.OpenAsync(app, RunningApp.NewEmail("other"));
        await other.SignInAsync(shots);
        await OpenInvitationAsync(other, orgName, invitedEmail);
        await other.Page.GetByRole(AriaRole.Button, new() { Name = "Accept invitation" }).ClickAsync();

        await Expect(other.Page.GetByText(new Regex("different email", RegexOptions.IgnoreCase)).First).ToBeVisibleAsync();
        await Expect(other.Page).Not.ToHaveURLAsync(UserBrowser.PathPattern($"/o/{slug}"));
        await shots.TakeAsync(other.Page, "forwarded-invitation-refused");

        await other.GotoAsync("/orgs");
        await Expect(other.Page.GetByText("You are not in any organization yet.")).ToBeVisibleAsync();
        await Expect(other.Page.GetByText(orgName)).ToHaveCountAsync(0);
        await shots.TakeAsync(other.Page, "other-orgs-without-org");
    }

    private static async Task InviteAsync(UserBrowser owner, string slug, string email)
    {
        var page = owner.Page;
        await owner.GotoAsync($"/o/{slug}/members");
        await owner.FillAsync(page.GetByLabel("Email address", new() { Exact = true }), email);
        await page.GetByRole(AriaRole.Button, new() { Name = "Send invitation" }).ClickAsync();
        // Listed under pending invitations: its row offers to revoke it.
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = email, Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = $"Revoke invitation for {email}" })).ToBeVisibleAsync();
    }

    /// <summary>Opens the invitation link from the email sent to <paramref name="invitedEmail"/> (default: the user's own).</summary>
    private async Task OpenInvitationAsync(UserBrowser user, string orgName, string? invitedEmail = null)
    {
        var mail = await app.Mailbox.WaitForAsync(invitedEmail ?? user.Email, $"invited to {orgName}");
        var link = Mailbox.LinkStartingWith(mail, new Uri(app.BaseUrl, "/invitations/accept?token=").ToString());
        await user.GotoAsync(link.PathAndQuery);
        await Expect(user.Page.GetByText(orgName).First).ToBeVisibleAsync();
    }

    private static string NewSlug() => "acme-" + Guid.NewGuid().ToString("N")[..8];
}
