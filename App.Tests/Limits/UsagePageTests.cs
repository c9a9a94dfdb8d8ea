using AgentSpace.Identity;
using AgentSpace.Limits;
using AgentSpace.Limits.Pages;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Bunit;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Limits;

/// <summary>What each role sees and may do on the Usage page.</summary>
public sealed class UsagePageTests(LimitsServices data) : PageTestBase(data), IClassFixture<LimitsServices>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private async Task<(LimitsOrg Org, Actor Member)> OrgWithAsync(OrgRole role)
    {
        var org = await Data.NewOrgAsync();
        var member = await Data.AddMemberAsync(org.Summary, role);
        return (org, member);
    }

    private IRenderedComponent<Usage> RenderAs(Actor actor, LimitsOrg org)
    {
        SignInAs(actor);
        // The page's days and months follow the same clock as the ledger rows written by the test.
        Services.AddSingleton<TimeProvider>(Data.Clock);
        return Render<Usage>(p => p.Add(x => x.Slug, org.Slug));
    }

    [Fact]
    public async Task Usage_WithSpend_ShowsChartTopConversationsAndRemainingBudgets()
    {
        var (org, member) = await OrgWithAsync(OrgRole.Member);
        var helper = await Data.AgentAsync(org, name: "Helper", monthlyBudget: 10m, dailyLimit: 40, runCap: 0.5m);
        var writer = await Data.AgentAsync(org, name: "Writer");
        var mine = await Data.ConversationAsync(org, helper, member.UserId, "Quarterly numbers");
        var theirs = await Data.ConversationAsync(org, writer, org.Owner.UserId, "Owner's private plans");
        await Data.RecordAsync(org, Guid.NewGuid(), helper, 0.25m, conversationId: mine, userId: member.UserId, input: 1200, output: 300);
        await Data.RecordAsync(org, Guid.NewGuid(), helper, 0.25m, conversationId: mine, userId: member.UserId);
        await Data.RecordAsync(org, Guid.NewGuid(), writer, 1.75m, conversationId: theirs, userId: org.Owner.UserId);

        var cut = RenderAs(member, org);

        cut.WaitForAssertion(() => Assert.Contains("Top conversations by cost", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.NotEmpty(cut.FindAll("[data-testid=usage-chart] .mud-chart svg"));
        var top = cut.Find("table[aria-label='Top conversations by cost']").TextContent;
        Assert.Contains("Quarterly numbers", top, StringComparison.Ordinal);
        Assert.Contains("Another member's conversation", top, StringComparison.Ordinal);
        Assert.DoesNotContain("private plans", cut.Markup, StringComparison.Ordinal);
        var budgets = cut.Find("table[aria-label='Agent budgets']").TextContent;
        Assert.Contains("Helper", budgets, StringComparison.Ordinal);
        Assert.Contains("$0.50", budgets, StringComparison.Ordinal);  // spent this month
        Assert.Contains("$9.50", budgets, StringComparison.Ordinal);  // remaining of $10
        Assert.Contains("$2.25", cut.Find("[data-testid=org-month]").TextContent, StringComparison.Ordinal);
        Assert.DoesNotContain("No usage yet.", cut.Markup, StringComparison.Ordinal);
        // Members read; only Admins set the quota.
        Assert.DoesNotContain("Save quota", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_NoSpend_ShowsEmptyState()
    {
        var (org, member) = await OrgWithAsync(OrgRole.Member);
        await Data.AgentAsync(org, name: "Idle");

        var cut = RenderAs(member, org);

        cut.WaitForAssertion(() => Assert.Contains("No usage yet.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("[data-testid=usage-chart]"));
        Assert.Contains("Idle", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_AsViewer_ReadsSpendButCannotResumeOrSetTheQuota()
    {
        var (org, viewer) = await OrgWithAsync(OrgRole.Viewer);
        var agent = await Data.AgentAsync(org, name: "Stopped", monthlyBudget: 1m);
        await Data.RecordAsync(org, Guid.NewGuid(), agent, 1m);

        var cut = RenderAs(viewer, org);

        cut.WaitForAssertion(() => Assert.Contains("Monthly budget of $1.00 reached", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Contains("Paused", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("button[aria-label='Resume Stopped']"));
        Assert.DoesNotContain("Save quota", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_PausedAgentAsMember_HasNoResumeButton()
    {
        var (org, member) = await OrgWithAsync(OrgRole.Member);
        await Data.AgentAsync(org, name: "Halted", pausedAt: Data.Clock.GetUtcNow(), pausedReason: "Paused by an Admin");

        var cut = RenderAs(member, org);

        cut.WaitForAssertion(() => Assert.Contains("Paused by an Admin", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("button[aria-label='Resume Halted']"));
    }

    [Fact]
    public async Task Usage_PausedAgentAsAdmin_ResumeLetsItAnswerAgainAndIsAudited()
    {
        var (org, admin) = await OrgWithAsync(OrgRole.Admin);
        var agent = await Data.AgentAsync(org, name: "Sleeper", pausedAt: Data.Clock.GetUtcNow(), pausedReason: "Paused by an Admin");
        Assert.NotNull(await Data.CheckTurnAsync(org, agent));

        var cut = RenderAs(admin, org);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("button[aria-label='Resume Sleeper']")), Wait);
        await cut.Find("button[aria-label='Resume Sleeper']").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("button[aria-label='Resume Sleeper']")), Wait);
        Assert.Null(await Data.CheckTurnAsync(org, agent));
        var resumed = Assert.Single(await Data.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.AgentResumed);
        Assert.Equal(admin.Email, resumed.ActorEmail);
        Assert.Equal("Sleeper", resumed.Target);
    }

    [Fact]
    public async Task Usage_AdminSetsQuota_ShowsItAndAuditsTheChange()
    {
        var (org, admin) = await OrgWithAsync(OrgRole.Admin);

        var cut = RenderAs(admin, org);
        cut.WaitForAssertion(() => Assert.Contains("Save quota", cut.Markup, StringComparison.Ordinal), Wait);
        await cut.Find("form input").ChangeAsync(new() { Value = "25" });
        await cut.Find("form").SubmitAsync();

        cut.WaitForAssertion(() => Assert.Contains("of the $25.00 monthly quota", cut.Find("[data-testid=org-month]").TextContent, StringComparison.Ordinal), Wait);
        var changed = Assert.Single(await Data.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.QuotaChanged);
        Assert.Contains("\"to_usd\":\"25\"", changed.Details?.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("0.001")]
    [InlineData("1000000.01")]
    public async Task SetMonthlyQuota_OutOfRange_IsRefusedWithAReason(string value)
    {
        var org = await Data.NewOrgAsync();
        var quota = decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

        var ex = await Assert.ThrowsAsync<OrgRuleException>(() => Data.WithAsync<UsageService>(s => s.SetMonthlyQuotaAsync(org.Owner, org.Slug, quota, default)));

        Assert.StartsWith("Enter a quota between $0.01 and $1,000,000.00", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(await Data.AuditLogAsync(org.Owner, org.Slug), e => e.Action == LimitsAuditActions.QuotaChanged);
    }

    [Theory]
    [InlineData(OrgRole.Viewer)]
    [InlineData(OrgRole.Member)]
    public async Task ResumeAndQuota_BelowAdmin_AreForbidden(OrgRole role)
    {
        var (org, member) = await OrgWithAsync(role);
        var agent = await Data.AgentAsync(org, pausedAt: Data.Clock.GetUtcNow(), pausedReason: "Paused by an Admin");

        var resume = await Assert.ThrowsAsync<OrgForbiddenException>(() => Data.WithAsync<UsageService, string>(s => s.ResumeAgentAsync(member, org.Slug, agent, default)));
        var quota = await Assert.ThrowsAsync<OrgForbiddenException>(() => Data.WithAsync<UsageService>(s => s.SetMonthlyQuotaAsync(member, org.Slug, 5m, default)));

        Assert.Equal(403, resume.StatusCode);
        Assert.Equal(403, quota.StatusCode);
        Assert.NotNull((await Data.ReadAgentAsync(org, agent)).PausedAt);
    }

    [Fact]
    public async Task ResumeAgent_AnotherOrganizationsAgentId_IsNotFoundAndLeavesItPaused()
    {
        var mine = await Data.NewOrgAsync();
        var theirs = await Data.NewOrgAsync();
        var victim = await Data.AgentAsync(theirs, pausedAt: Data.Clock.GetUtcNow(), pausedReason: "Paused by an Admin");

        var ex = await Assert.ThrowsAsync<UsageAgentNotFoundException>(() => Data.WithAsync<UsageService, string>(s => s.ResumeAgentAsync(mine.Owner, mine.Slug, victim, default)));

        Assert.Equal(404, ex.StatusCode);
        Assert.NotNull((await Data.ReadAgentAsync(theirs, victim)).PausedAt);
    }

    [Fact]
    public async Task Usage_NotAMember_IsNotFound()
    {
        var org = await Data.NewOrgAsync();
        var stranger = await Data.NewUserAsync("stranger");

        var cut = RenderAs(stranger, org);

        cut.WaitForAssertion(() => Assert.Contains("Organization not found", cut.Markup, StringComparison.Ordinal), Wait);
    }
}
