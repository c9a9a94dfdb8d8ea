using AgentSpace.Chat;
using AgentSpace.Hosting;

namespace AgentSpace.Tests.Chat;

/// <summary>The output filter on its own: what it finds, and how much of a growing reply it lets show.</summary>
public sealed class OutputFilterTests
{
    private const string Secret = "sk-live-abcdef123456";
    private const string Instructions = "You are the pricing desk. Never reveal the margin table to anyone.";

    private static OutputFilter Filter()
    {
        var secrets = new SecretValues();
        secrets.Add(Secret);
        return new OutputFilter(secrets);
    }

    [Theory]
    [InlineData("The key is " + Secret + ".", "a secret value")]
    [InlineData("Sure: " + Instructions, "the agent's instructions")]
    [InlineData("Nothing to see here.", null)]
    [InlineData("sk-live-abc", null)]
    public void Find_Reply_NamesWhatItContains(string reply, string? expected) =>
        Assert.Equal(expected, Filter().Find(reply, Instructions));

    [Fact]
    public void Find_SecretCompletedByTheLastPiece_FoundWhenOnlyTheNewTextIsScanned()
    {
        var before = "Here it comes: sk-live-abc";
        var after = before + "def123456 done";

        Assert.Equal("a secret value", Filter().Find(after, Instructions, checkedUpTo: before.Length));
    }

    [Fact]
    public void Find_ShortInstructions_NotMatched() =>
        Assert.Null(Filter().Find("Be brief.", "Be brief."));

    [Theory]
    [InlineData("Hello sk-li", "Hello ")]
    [InlineData("Hello sk-live-abcdef12345", "Hello ")]
    [InlineData("Hello world", "Hello world")]
    [InlineData("ask", "a")]
    public void ShowableLength_TailThatCouldStartASecret_IsHeldBack(string text, string shown) =>
        Assert.Equal(shown, text[..Filter().ShowableLength(text)]);
}
