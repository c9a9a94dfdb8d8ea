using AgentSpace.Agents;
using AgentSpace.Boardroom;
using AgentSpace.Boardroom.Pages;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Chat;
using AgentSpace.Tests.Infrastructure;
using AngleSharp.Dom;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Extensions;

namespace AgentSpace.Tests.Boardroom;

/// <summary>The boardroom and decision pages as members and viewers see them, over sessions run for real.</summary>
public sealed class BoardroomPageTests(BoardroomFixture data) : PageTestBase(data), IClassFixture<BoardroomFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private const string Question = "Should the team move to a four-day week?";

    private static readonly string[] EditedRisks = ["Customer cover on Fridays", "Burnout on longer days"];

    /// <summary>Signs in with the recording server behind provider agents (the app's own cost guard decides).</summary>
    private void SignInWithModels(Actor actor)
    {
        SignInAs(actor);
        ChatFixture.AddTestModels(Services, () => data.Server, null);
    }

    private sealed record Board(TestOrg Org, Agent First, Agent Second, Agent Chair);

    private async Task<Board> BoardAsync(OrgRole role, bool offline = true, string key = "")
    {
        var org = await data.OrgWithMemberAsync(role);
        return new Board(org,
            await data.SeatAsync(org, "Ada", key, offline),
            await data.SeatAsync(org, "Grace", key, offline),
            await data.SeatAsync(org, "Chair", key, offline));
    }

    private static SessionInput Input(Board board, int rounds = 1) =>
        new(Question, "Productivity data from the pilot is mixed.", [board.First.Id, board.Second.Id], board.Chair.Id, rounds,
            SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 1m);

    /// <summary>An offline session run to its end through the service, as the organization's owner.</summary>
    private async Task<SessionView> EndedSessionAsync(Board board, int rounds = 1)
    {
        var id = await data.Boardroom.StartAsync(board.Org.Owner, board.Org.Org.Slug, Input(board, rounds), default);
        await data.WaitAsync(id);
        return await data.Boardroom.OpenAsync(board.Org.Owner, board.Org.Org.Slug, id, default);
    }

    private static IElement MemberBox(IRenderedComponent<BoardroomIndex> cut, Agent agent) =>
        cut.Find($"[data-agent='{agent.Id}'] input[type=checkbox]");

    private static async Task ChooseChairAsync(IRenderedComponent<BoardroomIndex> cut, Agent chair)
    {
        var select = cut.FindComponent<MudSelect<Guid?>>();
        await cut.InvokeAsync(() => select.Instance.SelectOption(chair.Id));
    }

    private string Uri => Services.GetRequiredService<NavigationManager>().Uri;

    [Fact]
    public async Task Index_NoSessions_ShowsTheEmptyStateAndTheFormToAMember()
    {
        var board = await BoardAsync(OrgRole.Member);
        SignInWithModels(board.Org.Member);

        var cut = Render<BoardroomIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("No sessions yet.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("[data-testid='session-row']"));
        Assert.NotNull(cut.Find("[data-testid='session-start']"));
        Assert.Equal("3", cut.Find("#session-rounds").GetAttribute("value"));
        Assert.Equal("1.00", cut.Find("#session-budget").GetAttribute("value"));
        Assert.Contains("Offline", cut.Find($"[data-agent='{board.First.Id}']").TextContent, StringComparison.Ordinal);
        Assert.Contains("do not echo each other", cut.Find("[data-testid='session-mode']").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Index_AsViewer_ListsSessionsButOffersNoNewSessionForm()
    {
        var board = await BoardAsync(OrgRole.Viewer);
        var session = await EndedSessionAsync(board);
        SignInWithModels(board.Org.Member);

        var cut = Render<BoardroomIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid='session-row']")), Wait);
        var row = cut.Find("[data-testid='session-row']");
        Assert.Contains(Question, row.TextContent, StringComparison.Ordinal);
        Assert.Contains("Ended", row.TextContent, StringComparison.Ordinal);
        Assert.Contains(StopReasons.Describe(session.Session.StopReason), row.TextContent, StringComparison.Ordinal);
        Assert.Equal($"/o/{board.Org.Org.Slug}/decisions/{session.Session.DecisionId}", row.QuerySelector($"a[href*='/decisions/']")!.GetAttribute("href"));
        Assert.Empty(cut.FindAll("[data-testid='session-start']"));
        Assert.Empty(cut.FindAll("[data-testid='session-question']"));
        Assert.DoesNotContain("New session", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Index_OneMember_ShowsTheErrorByTheMembersAndStartsNothing()
    {
        var board = await BoardAsync(OrgRole.Member);
        SignInWithModels(board.Org.Member);
        var cut = Render<BoardroomIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));
        cut.WaitForAssertion(() => cut.Find("[data-testid='session-start']"), Wait);

        cut.Find("#session-question").Input(Question);
        MemberBox(cut, board.First).Change(true);
        await ChooseChairAsync(cut, board.Chair);
        cut.Find("form").Submit();

        cut.WaitForAssertion(() => Assert.Equal("Choose 2 to 7 member agents.", cut.Find("[data-testid='session-members-error']").TextContent.Trim()), Wait);
        Assert.Empty(cut.FindAll("[data-testid='session-error']"));
        Assert.DoesNotContain("/boardroom/", Uri, StringComparison.Ordinal);
        Assert.Empty((await data.Boardroom.HomeAsync(board.Org.Owner, board.Org.Org.Slug, default)).Sessions);
    }

    [Fact]
    public async Task Index_ChairTickedAsAMember_LeavesTheSeatAndTheFormAsksForAChair()
    {
        var board = await BoardAsync(OrgRole.Member);
        SignInWithModels(board.Org.Member);
        var cut = Render<BoardroomIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));
        cut.WaitForAssertion(() => cut.Find("[data-testid='session-start']"), Wait);

        cut.Find("#session-question").Input(Question);
        await ChooseChairAsync(cut, board.Chair);
        MemberBox(cut, board.First).Change(true);
        MemberBox(cut, board.Chair).Change(true);
        cut.Find("form").Submit();

        cut.WaitForAssertion(() => Assert.Contains("Choose a chair.", cut.Find("[data-testid='session-chair']").Closest(".mud-input-control")!.TextContent,
            StringComparison.Ordinal), Wait);
        Assert.Null(cut.FindComponent<MudSelect<Guid?>>().Instance.GetState(x => x.Value));
        Assert.Empty((await data.Boardroom.HomeAsync(board.Org.Owner, board.Org.Org.Slug, default)).Sessions);
    }

    [Fact]
    public async Task Index_AgentPausedAfterTheFormOpened_ShowsTheServiceRefusalUnderTheForm()
    {
        var board = await BoardAsync(OrgRole.Member);
        SignInWithModels(board.Org.Member);
        var cut = Render<BoardroomIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));
        cut.WaitForAssertion(() => cut.Find("[data-testid='session-start']"), Wait);
        await data.WithAsync<AgentService>(s => s.PauseAsync(board.Org.Owner, board.Org.Org.Slug, board.Second.Id, "Budget review", default));

        cut.Find("#session-question").Input(Question);
        MemberBox(cut, board.First).Change(true);
        MemberBox(cut, board.Second).Change(true);
        await ChooseChairAsync(cut, board.Chair);
        cut.Find("form").Submit();

        cut.WaitForAssertion(() => Assert.Contains($"{board.Second.Name} is paused and cannot take part.", cut.Find("[data-testid='session-error']").TextContent,
            StringComparison.Ordinal), Wait);
        Assert.DoesNotContain("/boardroom/", Uri, StringComparison.Ordinal);
        Assert.Empty((await data.Boardroom.HomeAsync(board.Org.Owner, board.Org.Org.Slug, default)).Sessions);
    }

    [Fact]
    public async Task Index_ValidForm_StartsTheSessionAndOpensItsPage()
    {
        var board = await BoardAsync(OrgRole.Member);
        SignInWithModels(board.Org.Member);
        var cut = Render<BoardroomIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));
        cut.WaitForAssertion(() => cut.Find("[data-testid='session-start']"), Wait);

        cut.Find("#session-question").Input(Question);
        MemberBox(cut, board.Second).Change(true);
        MemberBox(cut, board.First).Change(true);
        await ChooseChairAsync(cut, board.Chair);
        cut.Find("#session-rounds").Change("1");
        cut.Find("form").Submit();

        cut.WaitForAssertion(() => Assert.Contains("/boardroom/", Uri, StringComparison.Ordinal), Wait);
        var id = Guid.Parse(Uri[(Uri.LastIndexOf('/') + 1)..]);
        if (Services.GetRequiredService<LiveBoardrooms>().Find(id) is { } running)
        {
            await running.Ended.WaitAsync(Wait);
        }
        var session = await data.Boardroom.OpenAsync(board.Org.Owner, board.Org.Org.Slug, id, default);
        Assert.Equal(Question, session.Session.Question);
        Assert.Equal(1, session.Session.MaxRounds);
        Assert.Equal(BoardroomModes.Sealed, session.Session.Mode);
        Assert.Equal(1m, session.Session.BudgetUsd);
        Assert.Equal(new[] { board.Second.Name, board.First.Name }, session.Members.Select(m => m.Name));
        Assert.Equal(board.Chair.Name, session.Session.ChairName);
    }

    [Fact]
    public async Task Session_EndedOfflineSession_ShowsTurnsByRoundAndTheDecisionLink()
    {
        var board = await BoardAsync(OrgRole.Member);
        var ended = await EndedSessionAsync(board, rounds: 2);
        SignInWithModels(board.Org.Member);

        var cut = Render<SessionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.SessionId, ended.Session.Id));

        cut.WaitForAssertion(() => Assert.Equal(ShownStatus.Ended, cut.Find("[data-testid='session-status']").GetAttribute("data-status")), Wait);
        var turns = cut.FindAll("[data-testid='turn']");
        Assert.Equal(ended.Turns.Count, turns.Count);
        Assert.Contains(turns, t => t.GetAttribute("data-kind") == TurnKinds.Member && t.GetAttribute("data-round") == "1");
        Assert.Contains(turns, t => t.GetAttribute("data-kind") == TurnKinds.Synthesis && t.GetAttribute("data-round") == "1");
        var first = turns.First(t => t.GetAttribute("data-kind") == TurnKinds.Member);
        Assert.Contains("Member", first.TextContent, StringComparison.Ordinal);
        Assert.Contains("$0.0000", first.TextContent, StringComparison.Ordinal);
        Assert.Contains("Chair synthesis", cut.Markup, StringComparison.Ordinal);
        Assert.Contains(StopReasons.Describe(ended.Session.StopReason), cut.Find("[data-testid='stop-reason']").TextContent, StringComparison.Ordinal);
        Assert.Equal($"/o/{board.Org.Org.Slug}/decisions/{ended.Session.DecisionId}", cut.Find("[data-testid='open-decision']").GetAttribute("href"));
        Assert.Contains("$0.00 of $1.00", cut.Find("[data-testid='spent']").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid='stop-button']"));
        Assert.Empty(cut.FindAll("[data-testid='resume-button']"));
        Assert.Empty(cut.FindAll("[data-testid='note-text']"));
        Assert.Empty(cut.FindAll("[data-testid='live-turn']"));
    }

    [Fact]
    public async Task Session_Running_StreamsTheLiveTurnAndStopEndsItWithARecord()
    {
        var key = "live-" + Guid.NewGuid().ToString("N");
        var board = await BoardAsync(OrgRole.Member, offline: false, key: key);
        data.Server.RespondWith(r => BoardroomScript.IsFor(r, key)
            ? new ScriptedReply { Text = "weighing ", Chunks = 1, ChunkDelay = TimeSpan.FromMilliseconds(20), Endless = true }
            : null);
        SignInWithModels(board.Org.Member);
        var boardroom = Services.GetRequiredService<BoardroomService>();
        var id = await boardroom.StartAsync(board.Org.Member, board.Org.Org.Slug, Input(board), default);
        var live = Services.GetRequiredService<LiveBoardrooms>().Find(id);
        Assert.NotNull(live);

        var cut = Render<SessionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.SessionId, id));

        cut.WaitForAssertion(() => Assert.Contains("weighing weighing", cut.Find("[data-testid='live-turn']").TextContent, StringComparison.Ordinal), Wait);
        Assert.Equal(ShownStatus.Running, cut.Find("[data-testid='session-status']").GetAttribute("data-status"));
        Assert.Contains(board.First.Name, cut.Find("[data-testid='live-turn']").TextContent, StringComparison.Ordinal);
        Assert.Equal("1", cut.Find("[data-testid='live-turn']").GetAttribute("data-round"));
        Assert.NotNull(cut.Find("[data-testid='note-text']"));
        await cut.InvokeAsync(() => cut.Find("[data-testid='stop-button']").Click());

        await live.Ended.WaitAsync(Wait);
        cut.WaitForAssertion(() => Assert.Equal(ShownStatus.Ended, cut.Find("[data-testid='session-status']").GetAttribute("data-status")), Wait);
        Assert.Empty(cut.FindAll("[data-testid='live-turn']"));
        Assert.Empty(cut.FindAll("[data-testid='stop-button']"));
        Assert.NotNull(cut.Find("[data-testid='open-decision']"));
        Assert.Contains(StopReasons.Describe(StopReasons.Stopped), cut.Find("[data-testid='stop-reason']").TextContent, StringComparison.Ordinal);
        var stopped = Assert.Single(cut.FindAll("[data-testid='turn']"));
        Assert.Equal(BoardroomTurnStatus.Stopped, stopped.GetAttribute("data-status"));
        Assert.Contains("weighing weighing", stopped.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_RunningAsViewer_ShowsTheLiveTurnButNoStopOrNote()
    {
        var key = "view-" + Guid.NewGuid().ToString("N");
        var board = await BoardAsync(OrgRole.Viewer, offline: false, key: key);
        data.Server.RespondWith(r => BoardroomScript.IsFor(r, key)
            ? new ScriptedReply { Text = "pondering ", Chunks = 1, ChunkDelay = TimeSpan.FromMilliseconds(20), Endless = true }
            : null);
        SignInWithModels(board.Org.Member);
        var boardroom = Services.GetRequiredService<BoardroomService>();
        var id = await boardroom.StartAsync(board.Org.Owner, board.Org.Org.Slug, Input(board), default);
        var live = Services.GetRequiredService<LiveBoardrooms>().Find(id)!;
        try
        {
            var cut = Render<SessionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.SessionId, id));

            cut.WaitForAssertion(() => Assert.Contains("pondering pondering", cut.Find("[data-testid='live-turn']").TextContent, StringComparison.Ordinal), Wait);
            Assert.Equal(ShownStatus.Running, cut.Find("[data-testid='session-status']").GetAttribute("data-status"));
            Assert.Empty(cut.FindAll("[data-testid='stop-button']"));
            Assert.Empty(cut.FindAll("[data-testid='resume-button']"));
            Assert.Empty(cut.FindAll("[data-testid='note-text']"));
        }
        finally
        {
            await boardroom.StopAsync(board.Org.Owner, board.Org.Org.Slug, id, default);
            await live.Ended.WaitAsync(Wait);
        }
    }

    [Fact]
    public async Task Session_AnotherOrganizationsSession_ShowsNotFoundAndNothingOfIt()
    {
        var theirs = await BoardAsync(OrgRole.Member);
        var session = await EndedSessionAsync(theirs);
        var mine = await data.OrgWithMemberAsync(OrgRole.Member);
        SignInWithModels(mine.Member);

        var cut = Render<SessionPage>(p => p.Add(x => x.Slug, mine.Org.Slug).Add(x => x.SessionId, session.Session.Id));

        cut.WaitForAssertion(() => Assert.Contains("Session not found", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.DoesNotContain(Question, cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decisions_NoRecords_ShowsTheEmptyState()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        SignInWithModels(org.Member);

        var cut = Render<DecisionsIndex>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("No decision records yet.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("[data-testid='decision-row']"));
    }

    [Fact]
    public async Task Decisions_WithAnOfflineRecord_ListsItAndASearchWithoutMatchesEmptiesTheList()
    {
        var board = await BoardAsync(OrgRole.Viewer);
        var session = await EndedSessionAsync(board);
        SignInWithModels(board.Org.Member);

        var cut = Render<DecisionsIndex>(p => p.Add(x => x.Slug, board.Org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid='decision-row']")), Wait);
        var row = cut.Find("[data-testid='decision-row']");
        Assert.Contains(Question, row.TextContent, StringComparison.Ordinal);
        Assert.Contains("Final", row.TextContent, StringComparison.Ordinal);
        Assert.NotNull(row.QuerySelector("[data-testid='offline']"));
        Assert.Contains(board.Chair.Name, row.TextContent, StringComparison.Ordinal);
        Assert.Equal($"/o/{board.Org.Org.Slug}/decisions/{session.Session.DecisionId}", row.QuerySelector("a")!.GetAttribute("href"));

        cut.Find("#decisions-search").Input("no-such-words-" + Guid.NewGuid().ToString("N"));

        cut.WaitForAssertion(() => Assert.Contains("No records match.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Empty(cut.FindAll("[data-testid='decision-row']"));
    }

    [Fact]
    public async Task Decision_OfflineRecord_ShowsTheIntactChipTheHashAndTheExportForms()
    {
        var board = await BoardAsync(OrgRole.Member);
        var session = await EndedSessionAsync(board);
        var record = Assert.Single(await data.RecordsAsync(board.Org, session.Session.Id));
        SignInWithModels(board.Org.Member);

        var cut = Render<DecisionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.RecordId, record.Id));

        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid='integrity']").GetAttribute("data-intact")), Wait);
        Assert.Contains("Intact — hash matches the audit log", cut.Find("[data-testid='integrity']").TextContent, StringComparison.Ordinal);
        Assert.Equal(record.Hash, cut.Find("[data-testid='hash']").TextContent.Trim());
        Assert.Contains("no language model wrote this record", cut.Find("[data-testid='offline-banner']").TextContent, StringComparison.Ordinal);
        Assert.NotEmpty(cut.Find("[data-testid='decision-text']").TextContent.Trim());
        var slug = board.Org.Org.Slug;
        foreach (var (testId, format) in new[] { ("export-md", "md"), ("export-pdf", "pdf") })
        {
            var form = cut.Find($"[data-testid='{testId}']").Closest("form")!;
            Assert.Equal("post", form.GetAttribute("method"));
            Assert.Equal($"/o/{slug}/decisions/{record.Id}/export.{format}", form.GetAttribute("action"));
            Assert.Equal("submit", cut.Find($"[data-testid='{testId}']").GetAttribute("type"));
        }
        Assert.NotNull(cut.Find("[data-testid='supersede-button']"));
        Assert.Empty(cut.FindAll("[data-testid='superseded-banner']"));
        Assert.Contains("v1 (this version)", cut.Find("[data-testid='history']").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decision_AsViewer_OffersExportButNoSupersede()
    {
        var board = await BoardAsync(OrgRole.Viewer);
        var session = await EndedSessionAsync(board);
        SignInWithModels(board.Org.Member);

        var cut = Render<DecisionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.RecordId, session.Session.DecisionId!.Value));

        cut.WaitForAssertion(() => cut.Find("[data-testid='integrity']"), Wait);
        Assert.NotNull(cut.Find("[data-testid='export-md']"));
        Assert.Empty(cut.FindAll("[data-testid='supersede-button']"));
    }

    [Fact]
    public async Task Decision_SupersedeWithoutAReason_ShowsTheErrorAndSavesNothing()
    {
        var board = await BoardAsync(OrgRole.Member);
        var session = await EndedSessionAsync(board);
        SignInWithModels(board.Org.Member);
        var cut = Render<DecisionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.RecordId, session.Session.DecisionId!.Value));
        cut.WaitForAssertion(() => cut.Find("[data-testid='supersede-button']"), Wait);

        await cut.InvokeAsync(() => cut.Find("[data-testid='supersede-button']").Click());
        cut.Find("#edit-decision").Input("Pilot the four-day week with one team.");
        cut.Find("[data-testid='supersede-save']").Closest("form")!.Submit();

        cut.WaitForAssertion(() => Assert.Contains("Say why the record changes.", cut.Find("#edit-reason").Closest(".mud-input-control")!.TextContent,
            StringComparison.Ordinal), Wait);
        Assert.Single(await data.RecordsAsync(board.Org, session.Session.Id));
    }

    [Fact]
    public async Task Decision_SupersedeConfirmed_SavesANewVersionAndOpensIt()
    {
        var board = await BoardAsync(OrgRole.Member);
        var session = await EndedSessionAsync(board);
        SignInWithModels(board.Org.Member);
        var dialogs = Render<MudDialogProvider>();
        var cut = Render<DecisionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.RecordId, session.Session.DecisionId!.Value));
        cut.WaitForAssertion(() => cut.Find("[data-testid='supersede-button']"), Wait);

        await cut.InvokeAsync(() => cut.Find("[data-testid='supersede-button']").Click());
        cut.Find("#edit-decision").Input("Pilot the four-day week with one team.");
        cut.Find("#edit-risks").Input("Customer cover on Fridays\n\nBurnout on longer days");
        cut.Find("#edit-reason").Input("The board's scope was wider than the pilot data supports.");
        // Not awaited: the submit waits for the dialog's answer.
        var submitted = cut.Find("[data-testid='supersede-save']").Closest("form")!.SubmitAsync();

        dialogs.WaitForAssertion(() => Assert.Contains("The current record stays as it is; a new version replaces it.", dialogs.Markup, StringComparison.Ordinal), Wait);
        Assert.Single(await data.RecordsAsync(board.Org, session.Session.Id));
        await dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Save new version").ClickAsync(new());
        await submitted.WaitAsync(Wait);

        cut.WaitForAssertion(() => Assert.Contains($"/o/{board.Org.Org.Slug}/decisions/", Uri, StringComparison.Ordinal), Wait);
        var records = await data.RecordsAsync(board.Org, session.Session.Id);
        Assert.Equal(2, records.Count);
        var newer = records[1];
        Assert.Equal(records[0].Id, newer.SupersedesId);
        Assert.EndsWith($"/o/{board.Org.Org.Slug}/decisions/{newer.Id}", Uri, StringComparison.Ordinal);
        var detail = await data.Boardroom.DecisionAsync(board.Org.Owner, board.Org.Org.Slug, newer.Id, default);
        Assert.Equal("Pilot the four-day week with one team.", detail.Record.Content.Decision);
        Assert.Equal(EditedRisks, detail.Record.Content.Risks);
        Assert.True(detail.Intact);
    }

    [Fact]
    public async Task Decision_SupersededVersion_LinksTheNewerOneAndOffersNoSupersede()
    {
        var board = await BoardAsync(OrgRole.Member);
        var session = await EndedSessionAsync(board);
        var first = session.Session.DecisionId!.Value;
        var second = await data.Boardroom.SupersedeAsync(board.Org.Owner, board.Org.Org.Slug, first,
            new DecisionEdit("Wait a quarter.", "More data first.", [], [new ActionItem("Collect pilot data", "HR", new DateOnly(2027, 3, 31))], "New data arrived."), default);
        SignInWithModels(board.Org.Member);

        var cut = Render<DecisionPage>(p => p.Add(x => x.Slug, board.Org.Org.Slug).Add(x => x.RecordId, first));

        cut.WaitForAssertion(() => Assert.Contains("Superseded by v2", cut.Find("[data-testid='superseded-banner']").TextContent, StringComparison.Ordinal), Wait);
        var slug = board.Org.Org.Slug;
        Assert.Equal($"/o/{slug}/decisions/{second}", cut.Find("[data-testid='superseded-banner'] a").GetAttribute("href"));
        Assert.Equal(DecisionStatus.Superseded, cut.Find("[data-status]").GetAttribute("data-status"));
        Assert.Empty(cut.FindAll("[data-testid='supersede-button']"));

        var newer = Render<DecisionPage>(p => p.Add(x => x.Slug, slug).Add(x => x.RecordId, second));

        newer.WaitForAssertion(() => Assert.Equal($"/o/{slug}/decisions/{first}", newer.Find("[data-testid='supersedes']").GetAttribute("href")), Wait);
        Assert.Contains("Supersedes v1", newer.Find("[data-testid='supersedes']").TextContent, StringComparison.Ordinal);
        var item = newer.Find("[data-testid='action-item']");
        Assert.Contains("Collect pilot data", item.TextContent, StringComparison.Ordinal);
        Assert.Contains("2027-03-31", item.TextContent, StringComparison.Ordinal);
        Assert.Equal("true", newer.Find("[data-testid='integrity']").GetAttribute("data-intact"));
    }
}
