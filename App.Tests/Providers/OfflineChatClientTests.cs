using AgentSpace.Chat;
using AgentSpace.Providers;
using Microsoft.Extensions.AI;

namespace AgentSpace.Tests.Providers;

public sealed class OfflineChatClientTests
{
    private static List<ChatMessage> Prompt(string question, params (string Source, string Text)[] passages) =>
    [
        new(ChatRole.System, "You are an agent.\n" + string.Join("\n", passages.Select(p => UntrustedContent.Wrap(p.Source, p.Text)))),
        new(ChatRole.User, question),
    ];

    [Fact]
    public async Task Answer_RelevantMemory_QuotesItWithACitation()
    {
        var messages = Prompt("When are invoices paid?",
            ("memory: payment terms", "Invoices are paid within 30 days of receipt. Late fees are 2% per month."),
            ("memory: office", "The office is closed on public holidays."));

        var answer = (await new OfflineChatClient().GetResponseAsync(messages)).Text;

        Assert.StartsWith("**Offline**", answer, StringComparison.Ordinal);
        Assert.Contains("> Invoices are paid within 30 days of receipt. [1]", answer, StringComparison.Ordinal);
        Assert.Contains("1. memory: payment terms", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("office is closed", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answer_NothingRelevant_SaysSoPlainly()
    {
        var answer = (await new OfflineChatClient().GetResponseAsync(Prompt("What is the capital of Peru?", ("memory", "Invoices are paid within 30 days.")))).Text;

        Assert.Contains("found nothing about that", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("Invoices", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answer_NoPassagesAtAll_SaysThereIsNothingToGoOn()
    {
        var answer = (await new OfflineChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, "Hello?")])).Text;

        Assert.Contains("no memories or documents", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_SameQuestion_SameAnswerAsWhole()
    {
        var messages = Prompt("late fees?", ("memory", "Late fees are 2% per month."));
        var client = new OfflineChatClient();

        var streamed = await client.GetStreamingResponseAsync(messages).ToChatResponseAsync();

        Assert.Equal((await client.GetResponseAsync(messages)).Text, streamed.Text);
    }
}
