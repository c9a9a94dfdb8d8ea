using AgentSpace.Boardroom;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace AgentSpace.Tests.Boardroom;

/// <summary>Decision records: immutable in the database, tamper-evident through the audit chain, superseded not edited; sessions' rules and access.</summary>
public sealed class BoardroomRecordTests(BoardroomFixture data) : IClassFixture<BoardroomFixture>
{
    private const string Handbook = """
        # Office policy

        New offices open only where at least 30 staff already live within an hour of the site. The lease must not exceed five years.

        # Budget

        Each new office has a first-year budget of 400,000 euros including fit-out.
        """;

    /// <summary>A finished offline session of two members and a chair, each member given the handbook.</summary>
    private async Task<(TestOrg Org, SessionView View)> OfflineSessionAsync()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var key = Guid.NewGuid().ToString("N")[..8];
        var a = await data.SeatAsync(org, "Ada", key + "-a", offline: true);
        var b = await data.SeatAsync(org, "Bo", key + "-b", offline: true);
        var chair = await data.SeatAsync(org, "Chair", key + "-c", offline: true);
        var handbook = await data.ReadyDocumentAsync(org, "office-policy.md", Handbook);
        await data.AttachAsync(org, a.Id, handbook);
        await data.AttachAsync(org, b.Id, handbook);
        var view = await data.RunAsync(org, new SessionInput("How many staff must live near a new office, and how long may its lease be?", null,
            [a.Id, b.Id], chair.Id, 2, SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 0m));
        return (org, view);
    }

    private async Task<string> SchemaAsync(TestOrg org) =>
        (await data.Database.ScalarAsAdminAsync<string>($"select schema_name from platform.organizations where id = '{org.Org.Id}'"))!;

    [Fact]
    public async Task OfflineSession_MembersQuoteTheirDocuments_AndTheRecordSaysItWasProducedOffline()
    {
        var (org, view) = await OfflineSessionAsync();

        Assert.Equal((ShownStatus.Ended, StopReasons.MaxRounds), (view.Status, view.Session.StopReason));
        var members = view.Turns.Where(t => t.Kind == TurnKinds.Member).ToList();
        Assert.Equal(4, members.Count);
        Assert.All(members, t => Assert.Equal("Offline", t.ProviderLabel));
        Assert.Contains(members, t => t.Content.Contains("30 staff", StringComparison.Ordinal) && t.Content.Contains("[1]", StringComparison.Ordinal));
        var detail = await data.Boardroom.DecisionAsync(org.Member, org.Org.Slug, view.Session.DecisionId!.Value, default);
        Assert.True(detail.Record.Content.ProducedOffline);
        Assert.Contains("offline", detail.Record.Content.Rationale, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(detail.Record.Content.Citations, c => c.Document == "office-policy.md");
        Assert.Equal(0m, detail.Record.Content.Costs.Sum(c => c.CostUsd));
        Assert.True(detail.Intact);
    }

    [Fact]
    public async Task FinalizedRecord_TheTenantRoleCannotUpdateOrDeleteIt()
    {
        var (org, view) = await OfflineSessionAsync();

        foreach (var sql in new[] { "update decision_records set content = ''", "delete from decision_records" })
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() =>
                data.InTenantAsync(org.Org, db => db.Database.ExecuteSqlRawAsync(sql)));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }
        var record = Assert.Single(await data.RecordsAsync(org, view.Session.Id));
        Assert.Equal(DecisionHash.Of(record.Id, null, record.Content), record.Hash);
    }

    [Fact]
    public async Task TamperedRecord_ChangedBehindTheAppsBack_NoLongerMatchesTheAuditLog()
    {
        var (org, view) = await OfflineSessionAsync();
        var id = view.Session.DecisionId!.Value;
        var schema = await SchemaAsync(org);

        // A superuser rewrites the decision; another also rewrites the stored hash to match.
        await data.Database.ExecuteAsAdminAsync($"update \"{schema}\".decision_records set content = replace(content, '\"decision\":\"', '\"decision\":\"Forged. ') where id = '{id}'");
        Assert.False((await data.Boardroom.DecisionAsync(org.Member, org.Org.Slug, id, default)).Intact);
        var forged = await data.InTenantAsync(org.Org, db => db.DecisionRecords.AsNoTracking().FirstAsync(r => r.Id == id));
        await data.Database.ExecuteAsAdminAsync($"update \"{schema}\".decision_records set hash = '{DecisionHash.Of(id, null, forged.Content)}' where id = '{id}'");

        var detail = await data.Boardroom.DecisionAsync(org.Member, org.Org.Slug, id, default);
        Assert.StartsWith("Forged.", detail.Record.Content.Decision, StringComparison.Ordinal);
        Assert.False(detail.Intact);
    }

    [Fact]
    public async Task Supersede_WritesANewLinkedVersionAndKeepsTheOldOneUnchanged()
    {
        var (org, view) = await OfflineSessionAsync();
        var first = Assert.Single(await data.RecordsAsync(org, view.Session.Id));
        var edit = new DecisionEdit("Open only with 30 staff nearby; lease at most five years.", "The handbook says so.", ["Rents rise"],
            [new ActionItem("Find a site", "Facilities", new DateOnly(2027, 3, 1))], "The chair's summary was a quote, not a decision.");

        var secondId = await data.Boardroom.SupersedeAsync(org.Member, org.Org.Slug, first.Id, edit, default);

        var records = await data.RecordsAsync(org, view.Session.Id);
        Assert.Equal(2, records.Count);
        Assert.Equal((first.Content, first.Hash), (records[0].Content, records[0].Hash));
        var second = records[1];
        Assert.Equal((secondId, first.Id, 2), (second.Id, second.SupersedesId, second.Version));
        var old = await data.Boardroom.DecisionAsync(org.Member, org.Org.Slug, first.Id, default);
        Assert.Equal((DecisionStatus.Superseded, secondId), (old.Record.Status, old.Record.SupersededById));
        Assert.True(old.Intact);
        var now = await data.Boardroom.DecisionAsync(org.Member, org.Org.Slug, secondId, default);
        Assert.Equal(edit.Decision, now.Record.Content.Decision);
        Assert.Equal(old.Record.Content.Positions, now.Record.Content.Positions);
        Assert.True(now.Intact);
        Assert.Equal([1, 2], now.History.Select(h => h.Version));
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        var superseded = Assert.Single(audit, e => e.Action == BoardroomAuditActions.Superseded);
        Assert.Contains(first.Hash, superseded.Details, StringComparison.Ordinal);
        Assert.Contains(second.Hash, superseded.Details, StringComparison.Ordinal);

        // The old version cannot be superseded a second time: the history does not fork.
        var again = await Assert.ThrowsAsync<BoardroomRuleException>(() => data.Boardroom.SupersedeAsync(org.Member, org.Org.Slug, first.Id, edit, default));
        Assert.Contains("already been superseded", again.Message, StringComparison.Ordinal);
        var list = await data.Boardroom.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(Status: DecisionStatus.Final), default);
        Assert.Equal(secondId, Assert.Single(list.Items).Id);
    }

    [Fact]
    public async Task Decisions_SearchAndFilters_FindByTextAgentDateAndStatus()
    {
        var (org, view) = await OfflineSessionAsync();
        var memberId = view.Members[0].AgentId;
        var service = data.Boardroom;

        Assert.Single((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(Text: "LEASE"), default)).Items);
        Assert.Empty((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(Text: "100%_no_such"), default)).Items);
        Assert.Single((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(AgentId: memberId), default)).Items);
        Assert.Empty((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(AgentId: Guid.NewGuid()), default)).Items);
        var day = DateOnly.FromDateTime(data.Clock.GetUtcNow().UtcDateTime);
        Assert.Single((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(From: day, To: day), default)).Items);
        Assert.Empty((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(From: day.AddDays(1)), default)).Items);
        Assert.Empty((await service.DecisionsAsync(org.Member, org.Org.Slug, new DecisionFilter(Status: DecisionStatus.Superseded), default)).Items);
    }

    [Fact]
    public async Task Export_MarkdownAndPdf_AreAuditedWithTheRecordsHash()
    {
        var (org, view) = await OfflineSessionAsync();
        var id = view.Session.DecisionId!.Value;
        var viewer = await data.AddMemberAsync(org.Org, OrgRole.Viewer);

        var markdown = await data.Boardroom.ExportAsync(viewer, org.Org.Slug, id, "md", default);
        var pdf = await data.Boardroom.ExportAsync(viewer, org.Org.Slug, id, "pdf", default);

        Assert.Contains("30 staff", System.Text.Encoding.UTF8.GetString(markdown.Bytes), StringComparison.Ordinal);
        Assert.EndsWith(".md", markdown.FileName, StringComparison.Ordinal);
        Assert.Equal("application/pdf", pdf.ContentType);
        var exports = (await data.AuditLogAsync(org.Owner, org.Org.Slug)).Where(e => e.Action == BoardroomAuditActions.Exported).ToList();
        Assert.Equal(2, exports.Count);
        Assert.All(exports, e => Assert.Equal(viewer.Email, e.ActorEmail));
        await Assert.ThrowsAsync<BoardroomRuleException>(() => data.Boardroom.ExportAsync(viewer, org.Org.Slug, id, "html", default));
    }

    [Theory]
    [InlineData("one member")]
    [InlineData("chair also a member")]
    [InlineData("no question")]
    [InlineData("six rounds")]
    [InlineData("negative budget")]
    [InlineData("seat taken twice")]
    public async Task Start_BadInput_IsRefusedWithAReasonAndStoresNothing(string problem)
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var key = Guid.NewGuid().ToString("N")[..8];
        var a = await data.SeatAsync(org, "Ada", key + "-a", offline: true);
        var b = await data.SeatAsync(org, "Bo", key + "-b", offline: true);
        var chair = await data.SeatAsync(org, "Chair", key + "-c", offline: true);
        var input = new SessionInput("Which office?", null, [a.Id, b.Id], chair.Id, 2, SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 1m);
        input = problem switch
        {
            "one member" => input with { MemberIds = [a.Id] },
            "chair also a member" => input with { ChairId = a.Id },
            "no question" => input with { Question = "   " },
            "six rounds" => input with { Rounds = 6 },
            "negative budget" => input with { BudgetUsd = -1 },
            _ => input with { MemberIds = [a.Id, a.Id] },
        };

        var refused = await Assert.ThrowsAsync<BoardroomRuleException>(() => data.Boardroom.StartAsync(org.Member, org.Org.Slug, input, default));

        Assert.False(string.IsNullOrWhiteSpace(refused.Message));
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.BoardroomSessions.CountAsync()));
    }

    [Fact]
    public async Task Viewer_CannotConveneStopResumeNoteOrSupersede()
    {
        var (org, view) = await OfflineSessionAsync();
        var viewer = await data.AddMemberAsync(org.Org, OrgRole.Viewer);
        var input = new SessionInput("Again?", null, [.. view.Members.Select(m => m.AgentId)], view.Session.ChairAgentId, 1, SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 0m);
        var id = view.Session.Id;
        var record = view.Session.DecisionId!.Value;

        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Boardroom.StartAsync(viewer, org.Org.Slug, input, default));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Boardroom.StopAsync(viewer, org.Org.Slug, id, default));
        // Refused for the role, before the session's state is looked at (an ended session would give a rule's refusal).
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Boardroom.ResumeAsync(viewer, org.Org.Slug, id, default));
        Assert.Null(data.Live.Find(id));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Boardroom.AddNoteAsync(viewer, org.Org.Slug, id, "hi", default));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Boardroom.SupersedeAsync(viewer, org.Org.Slug, record,
            new DecisionEdit("x", "", [], [], "why"), default));
        // Reading is allowed.
        Assert.Equal(id, (await data.Boardroom.OpenAsync(viewer, org.Org.Slug, id, default)).Session.Id);
    }

    [Fact]
    public async Task AnotherOrganizationsSessionAndRecord_AreNotFound()
    {
        var (org, view) = await OfflineSessionAsync();
        var other = await data.OrgWithMemberAsync(OrgRole.Admin);

        await Assert.ThrowsAsync<BoardroomNotFoundException>(() => data.Boardroom.OpenAsync(other.Member, other.Org.Slug, view.Session.Id, default));
        await Assert.ThrowsAsync<BoardroomNotFoundException>(() => data.Boardroom.DecisionAsync(other.Member, other.Org.Slug, view.Session.DecisionId!.Value, default));
        await Assert.ThrowsAsync<BoardroomNotFoundException>(() => data.Boardroom.ExportAsync(other.Member, other.Org.Slug, view.Session.DecisionId!.Value, "md", default));
        await Assert.ThrowsAsync<BoardroomNotFoundException>(() => data.Boardroom.ResumeAsync(other.Member, other.Org.Slug, view.Session.Id, default));
        // Another organization's agents cannot be seated either.
        var input = new SessionInput("Steal?", null, [.. view.Members.Select(m => m.AgentId)], view.Session.ChairAgentId, 1, SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 0m);
        await Assert.ThrowsAsync<BoardroomNotFoundException>(() => data.Boardroom.StartAsync(other.Member, other.Org.Slug, input, default));
        // And a non-member of the organization sees nothing at all.
        await Assert.ThrowsAsync<OrgNotFoundException>(() => data.Boardroom.OpenAsync(other.Member, org.Org.Slug, view.Session.Id, default));
    }
}
