using AgentSpace.Limits;
using AgentSpace.Providers;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace AgentSpace.Tests.Limits;

public sealed class TokenCounterTests
{
    private readonly TokenCounter _counter = new();

    [Fact]
    public void Count_KnownString_MatchesTheO200kEncoding()
    {
        const string text = "Hello, world! The quick brown fox jumps over the lazy dog. Ünïcödé and 日本語 too.";
        var reference = TiktokenTokenizer.CreateForEncoding("o200k_base");

        Assert.Equal(4, _counter.Count("Hello, world!"));
        Assert.Equal(reference.EncodeToIds(text).Count, _counter.Count(text));
        Assert.Equal(0, _counter.Count(""));
        Assert.Equal(0, _counter.Count(null));
    }

    [Fact]
    public void Count_ManyThreadsAtOnce_AgreeWithOneThread()
    {
        var text = string.Concat(Enumerable.Repeat("tokens counted in parallel ", 50));
        var expected = _counter.Count(text);

        var counts = new int[64];
        Parallel.For(0, counts.Length, i => counts[i] = _counter.Count(text));

        Assert.All(counts, c => Assert.Equal(expected, c));
    }

    [Fact]
    public void CountChat_Messages_AddsTheChatFormatOverhead()
    {
        ChatMessage[] messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hello, world!")];

        var expected = 3 + (3 + _counter.Count("system") + _counter.Count("Be brief.")) + (3 + _counter.Count("user") + 4);

        Assert.Equal(expected, _counter.CountChat(messages));
    }

    [Fact]
    public void ProjectCost_PriceAndTokens_IsInputPlusLargestAnswer()
    {
        var price = new ModelPrice(3m, 15m);

        Assert.Equal(0.0105m, TokenCounter.ProjectCost(price, 1000, 500));
        Assert.Equal(0m, TokenCounter.ProjectCost(ModelPrice.Free, 1000, 500));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenCounter.ProjectCost(price, -1, 0));
    }
}
