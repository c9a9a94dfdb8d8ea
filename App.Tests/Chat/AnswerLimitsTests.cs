using System.Diagnostics;
using AgentSpace.Chat;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentSpace.Tests.Chat;

/// <summary>Chat with a short answer time limit, for <see cref="AnswerLimitsTests"/>.</summary>
public sealed class AnswerLimitsFixture : ChatFixture
{
    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Chat:MaxAnswerDuration"] = "00:00:03",
    };
}

/// <summary>A provider that ignores its token allowance or never ends: the answer is cut, quickly, and says so.</summary>
public sealed class AnswerLimitsTests(AnswerLimitsFixture data, ITestOutputHelper output) : IClassFixture<AnswerLimitsFixture>
{
    [Fact]
    public async Task Send_ProviderStreams2MbIn20000Pieces_AnswerIsCutAt32000CharsQuickly()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org);
        data.Server.DefaultReply = new ScriptedReply { Text = new string('a', 2_000_000), Chunks = 20_000 };
        var started = Stopwatch.StartNew();

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "hi", null, default);

        output.WriteLine($"{outcome.Status}, {outcome.Content.Length:N0} chars, {started.Elapsed.TotalSeconds:0.0} s");
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
        Assert.Equal(TurnStatus.Complete, outcome.Status);
        Assert.Equal(new ChatAnswerOptions().MaxAnswerChars, outcome.Content.Length);
        Assert.Equal("The answer was cut at 32,000 characters.", outcome.Error);
        var stored = (await data.TurnsAsync(org.Org, outcome.ConversationId))[^1];
        Assert.Equal((TurnStatus.Complete, 32_000), (stored.Status, stored.Content.Length));
    }

    [Fact]
    public async Task Send_ProviderStreamsForever_TurnEndsAtTheTimeLimitWithWhatItHas()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org);
        data.Server.DefaultReply = new ScriptedReply { Text = "more ", Endless = true, ChunkDelay = TimeSpan.FromMilliseconds(50) };
        var started = Stopwatch.StartNew();

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "hi", null, default);

        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
        Assert.Equal(TurnStatus.Complete, outcome.Status);
        Assert.StartsWith("more ", outcome.Content, StringComparison.Ordinal);
        Assert.Equal("The answer took longer than 3 seconds and was cut there.", outcome.Error);
    }
}
