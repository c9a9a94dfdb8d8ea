using AgentSpace.Agents;
using AgentSpace.Agents.Pages;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AngleSharp.Dom;
using Bunit;
using MudBlazor;

namespace AgentSpace.Tests.Agents;

/// <summary>What the agents pages show each role, and that they ask before destroying anything.</summary>
public sealed class AgentPageTests(AppServices data) : PageTestBase(data), IClassFixture<AppServices>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private Task<AgentView> CreateAsync(Actor actor, string slug, string name, string description = "") =>
        Data.WithAsync<AgentService, AgentView>(s => s.CreateAsync(actor, slug,
            new AgentInput { Name = name, Colour = "#009688", Description = description, Tools = [AgentTools.Memory] }, default));

    private Task<AgentList> ListAsync(Actor actor, string slug) =>
        Data.WithAsync<AgentService, AgentList>(s => s.ListAsync(actor, slug, default));

    [Fact]
    public async Task List_WithAgents_ShowsNameDescriptionModelAndPausedReason()
    {
        var (owner, org, member) = await Data.OrgWithMemberAsync(OrgRole.Member);
        await CreateAsync(owner, org.Slug, "Helpdesk", "Answers IT questions.");
        var paused = await CreateAsync(owner, org.Slug, "Researcher");
        await Data.WithAsync<AgentService>(s => s.PauseAsync(owner, org.Slug, paused.Id, "Budget review", default));
        SignInAs(member);

        var cut = Render<AgentsIndex>(p => p.Add(x => x.Slug, org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("Helpdesk", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Contains("Answers IT questions.", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Offline", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Paused: Budget review", cut.Markup, StringComparison.Ordinal);
        Assert.Equal($"/o/{org.Slug}/chat/{paused.Id}", cut.Find($"[aria-label='Chat with Researcher']").GetAttribute("href"));
    }

    [Fact]
    public async Task List_WithoutAgents_ShowsTheEmptyStateWithACreateLinkForAdmins()
    {
        var (_, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        SignInAs(admin);

        var cut = Render<AgentsIndex>(p => p.Add(x => x.Slug, org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("No agents yet.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Contains("Create an agent", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_AsViewer_ShowsAgentsButNoManageOrChatButtons()
    {
        var (owner, org, viewer) = await Data.OrgWithMemberAsync(OrgRole.Viewer);
        await CreateAsync(owner, org.Slug, "Readonly");
        SignInAs(viewer);

        var cut = Render<AgentsIndex>(p => p.Add(x => x.Slug, org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("Readonly", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.DoesNotContain("New agent", cut.Markup, StringComparison.Ordinal);
        foreach (var action in new[] { "Edit", "Duplicate", "Pause", "Delete", "Chat with" })
        {
            Assert.Empty(cut.FindAll($"[aria-label='{action} Readonly']"));
        }
    }

    [Fact]
    public async Task Editor_AsViewer_ShowsTheAgentReadOnlyWithoutSaveOrActions()
    {
        var (owner, org, viewer) = await Data.OrgWithMemberAsync(OrgRole.Viewer);
        var agent = await CreateAsync(owner, org.Slug, "Inspectable");
        SignInAs(viewer);

        var cut = Render<AgentEditor>(p => p.Add(x => x.Slug, org.Slug).Add(x => x.AgentId, agent.Id));

        cut.WaitForAssertion(() => Assert.Equal("Inspectable", cut.Find("#agent-name").GetAttribute("value")), Wait);
        Assert.True(cut.Find("#agent-name").HasAttribute("readonly"));
        Assert.DoesNotContain("Save changes", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain(">Delete<", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Memories", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_WithANameInUse_ShowsTheErrorUnderTheNameFieldAndCreatesNothing()
    {
        var (owner, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        await CreateAsync(owner, org.Slug, "Support");
        SignInAs(admin);
        var cut = Render<AgentEditor>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => cut.Find("#agent-name"), Wait);

        cut.Find("#agent-name").Input("Support");
        cut.Find("form").Submit();

        cut.WaitForAssertion(() =>
        {
            var field = cut.Find("#agent-name").Closest(".mud-input-control")!;
            Assert.Contains("Another agent already has this name.", field.TextContent, StringComparison.Ordinal);
        }, Wait);
        Assert.DoesNotContain("Another agent already has this name.", cut.Find("#agent-colour").Closest(".mud-input-control")!.TextContent, StringComparison.Ordinal);
        Assert.Single((await ListAsync(owner, org.Slug)).Agents);
    }

    [Fact]
    public async Task Create_WithValidFields_CreatesTheAgentAndOpensIt()
    {
        var (owner, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        SignInAs(admin);
        var cut = Render<AgentEditor>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => cut.Find("#agent-name"), Wait);

        cut.Find("#agent-name").Input("Onboarding buddy");
        cut.Find("form").Submit();

        cut.WaitForAssertion(() => Assert.Contains("Created Onboarding buddy.", Services.GetService<ISnackbar>()!.ShownSnackbars.Select(s => s.Message), StringComparer.Ordinal), Wait);
        var created = Assert.Single((await ListAsync(owner, org.Slug)).Agents);
        Assert.Equal("Onboarding buddy", created.Name);
        var navigation = Services.GetService<Microsoft.AspNetCore.Components.NavigationManager>();
        Assert.EndsWith($"/o/{org.Slug}/agents/{created.Id}", navigation!.Uri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_AsksForConfirmationAndCancelKeepsTheAgent()
    {
        var (owner, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        await CreateAsync(owner, org.Slug, "Keeper");
        SignInAs(admin);
        var dialogs = Render<MudDialogProvider>();
        var cut = Render<AgentsIndex>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => cut.Find("[aria-label='Delete Keeper']"), Wait);

        // Not awaited: the click's handler waits for the dialog's answer.
        var clicked = cut.Find("[aria-label='Delete Keeper']").ClickAsync(new());

        dialogs.WaitForAssertion(() => Assert.Contains("Delete Keeper?", dialogs.Markup, StringComparison.Ordinal), Wait);
        Assert.Single((await ListAsync(owner, org.Slug)).Agents);
        await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Cancel").ClickAsync(new());
        await clicked.WaitAsync(Wait);
        dialogs.WaitForAssertion(() => Assert.DoesNotContain("Delete Keeper?", dialogs.Markup, StringComparison.Ordinal), Wait);
        Assert.Single((await ListAsync(owner, org.Slug)).Agents);
    }

    [Fact]
    public async Task Delete_Confirmed_RemovesTheAgentFromTheList()
    {
        var (owner, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        await CreateAsync(owner, org.Slug, "Goner");
        SignInAs(admin);
        var dialogs = Render<MudDialogProvider>();
        var cut = Render<AgentsIndex>(p => p.Add(x => x.Slug, org.Slug));
        cut.WaitForAssertion(() => cut.Find("[aria-label='Delete Goner']"), Wait);

        var clicked = cut.Find("[aria-label='Delete Goner']").ClickAsync(new());
        dialogs.WaitForAssertion(() => Assert.Contains("Delete Goner?", dialogs.Markup, StringComparison.Ordinal), Wait);
        await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Delete agent").ClickAsync(new());
        await clicked.WaitAsync(Wait);

        cut.WaitForAssertion(() => Assert.Contains("No agents yet.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Empty((await ListAsync(owner, org.Slug)).Agents);
    }

    [Fact]
    public async Task Editor_AsAdmin_ListsMemoriesWithDeleteButtonsAndShowsAnEmptyStateWithout()
    {
        var (owner, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        var remembering = await CreateAsync(owner, org.Slug, "Remembering");
        var blank = await CreateAsync(owner, org.Slug, "Blank");
        await Data.WithAsync<TenantOperation>(ops => ops.RunAsSystemAsync(org.Id, "test setup", async (work, ct) =>
        {
            work.Db.AgentMemories.Add(new AgentMemory { Id = Guid.NewGuid(), AgentId = remembering.Id, Fact = "Standup is at 9:30.", CreatedAt = Data.Clock.GetUtcNow() });
            await work.Db.SaveChangesAsync(ct);
        }, default));
        SignInAs(admin);

        var cut = Render<AgentEditor>(p => p.Add(x => x.Slug, org.Slug).Add(x => x.AgentId, remembering.Id));
        cut.WaitForAssertion(() => Assert.Contains("Standup is at 9:30.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Single(cut.FindAll("[aria-label='Delete memory: Standup is at 9:30.']"));

        var empty = Render<AgentEditor>(p => p.Add(x => x.Slug, org.Slug).Add(x => x.AgentId, blank.Id));
        empty.WaitForAssertion(() => Assert.Contains("No memories yet.", empty.Markup, StringComparison.Ordinal), Wait);
    }

    [Fact]
    public async Task Editor_AnotherOrganizationsAgentId_ShowsAgentNotFoundAndNothingOfIt()
    {
        var victimOwner = await Data.NewUserAsync("victim");
        var victimOrg = await Data.CreateOrgAsync(victimOwner);
        var victim = await CreateAsync(victimOwner, victimOrg.Slug, "Victim's secret agent");
        var attacker = await Data.NewUserAsync("attacker");
        var attackerOrg = await Data.CreateOrgAsync(attacker);
        SignInAs(attacker);

        var cut = Render<AgentEditor>(p => p.Add(x => x.Slug, attackerOrg.Slug).Add(x => x.AgentId, victim.Id));

        cut.WaitForAssertion(() => Assert.Contains("Agent not found", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.DoesNotContain("Victim's secret agent", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editor_AdminAddsMemory_ItIsListed()
    {
        var (owner, org, admin) = await Data.OrgWithMemberAsync(OrgRole.Admin);
        var agent = await CreateAsync(owner, org.Slug, "Learner");
        SignInAs(admin);

        var cut = Render<AgentEditor>(p => p.Add(x => x.Slug, org.Slug).Add(x => x.AgentId, agent.Id));
        cut.WaitForAssertion(() => Assert.Contains("No memories yet.", cut.Markup, StringComparison.Ordinal), Wait);
        cut.Find("#new-memory").Change("Refunds take five working days.");
        cut.FindAll("button").Single(b => b.TextContent.Trim() == "Add memory").Click();

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[aria-label='Delete memory: Refunds take five working days.']")), Wait);
    }
}
