using System.Diagnostics;
using AgentSpace.Boardroom;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Boardroom;

/// <summary>The boardroom with the chat's answer time limit set short, so a turn that never ends is cut off within a test.</summary>
public sealed class ShortTurnBoardroomFixture : BoardroomFixture
{
    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>(base.ExtraSettings)
    {
        ["Chat:MaxAnswerDuration"] = "00:00:02",
    };
}

/// <summary>A turn is bounded in time as a chat answer is: past the limit its call is cancelled and the session can be resumed.</summary>
public sealed class BoardroomTurnLimitTests(ShortTurnBoardroomFixture data) : IClassFixture<ShortTurnBoardroomFixture>
{
    [Fact]
    public async Task EndlessTurn_PastTheTimeLimit_IsCutOffAndTheSessionFailsResumable()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var key = Guid.NewGuid().ToString("N")[..10];
        var a = await data.SeatAsync(org, "Ada", key + "-a");
        var b = await data.SeatAsync(org, "Bo", key + "-b");
        var chair = await data.SeatAsync(org, "Chair", key + "-chair");
        var endless = true;
        data.Server.RespondWith(r =>
        {
            if (!r.SystemText.Contains(key, StringComparison.Ordinal))
            {
                return null;
            }
            if (BoardroomScript.IsFor(r, key + "-a") && Volatile.Read(ref endless))
            {
                return new ScriptedReply { Text = "I keep talking ", Endless = true, ChunkDelay = TimeSpan.FromMilliseconds(20) };
            }
            return BoardroomScript.KindOf(r) switch
            {
                BoardroomCall.Synthesis => ScriptedReply.Say("Agreed.\nCONSENSUS: yes"),
                BoardroomCall.Record => ScriptedReply.Say(BoardroomScript.RecordJson("Go.")),
                _ => ScriptedReply.Say("Fine.\nPOSITION: agree"),
            };
        });
        var input = new SessionInput("Should we open an office in Lisbon?", null, [a.Id, b.Id], chair.Id, 2, SpeakerOrders.RoundRobin, BoardroomModes.Sealed, 1m);
        var watch = Stopwatch.StartNew();

        var failed = await data.RunAsync(org, input, TimeSpan.FromSeconds(30));

        watch.Stop();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.ElapsedMilliseconds} ms");
        Assert.Equal((ShownStatus.Failed, StopReasons.ProviderFailure), (failed.Status, failed.Session.StopReason));
        Assert.Equal($"{a.Name}'s turn took longer than 2 seconds and was cut off. Resume the session to try again.", failed.Session.StopDetail);
        Assert.True(failed.CanResume);
        var turn = Assert.Single(failed.Turns);
        Assert.Equal((a.Id, BoardroomTurnStatus.Failed), (turn.AgentId!.Value, turn.Status));
        Assert.StartsWith("I keep talking", turn.Content, StringComparison.Ordinal);
        // Nobody else was called after the cut.
        Assert.DoesNotContain(data.Server.ChatRequests, r => BoardroomScript.IsFor(r, key + "-b") || BoardroomScript.IsFor(r, key + "-chair"));

        Volatile.Write(ref endless, false);
        await data.Boardroom.ResumeAsync(org.Member, org.Org.Slug, failed.Session.Id, default);
        await data.WaitAsync(failed.Session.Id);
        var done = await data.Boardroom.OpenAsync(org.Member, org.Org.Slug, failed.Session.Id, default);

        Assert.Equal((ShownStatus.Ended, StopReasons.Consensus), (done.Status, done.Session.StopReason));
    }
}
