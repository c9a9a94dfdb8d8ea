using AgentSpace.Providers;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace AgentSpace.Limits;

/// <summary>
/// Counts tokens locally with the o200k_base encoding, for the offline provider and for providers whose
/// responses carry no usage, and projects the cost of a call before it is made. Thread-safe.
/// </summary>
public sealed class TokenCounter
{
    // The encoding's vocabulary is large: load it once per process, on first use.
    private static readonly Lazy<Tokenizer> Encoding = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"), LazyThreadSafetyMode.ExecutionAndPublication);

    // What chat formats add per message and to prime the reply, as OpenAI documents for its chat models.
    private const int PerMessageOverhead = 3;
    private const int ReplyPriming = 3;

    public int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : Encoding.Value.CountTokens(text);

    /// <summary>The input tokens of a chat request: every message's role and text, plus the chat format's overhead.</summary>
    public int CountChat(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var total = ReplyPriming;
        foreach (var message in messages)
        {
            total += PerMessageOverhead + Count(message.Role.Value) + Count(message.Text);
        }
        return total;
    }

    /// <summary>
    /// The most a call can cost: its input and the largest answer it may write. Checked before the call,
    /// so a run cannot overshoot its cap by more than the difference between this and the real answer.
    /// </summary>
    public static decimal ProjectCost(ModelPrice price, int inputTokens, int maxOutputTokens)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentOutOfRangeException.ThrowIfNegative(inputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(maxOutputTokens);
        return price.CostOf(inputTokens, maxOutputTokens);
    }
}
