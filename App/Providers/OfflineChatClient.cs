using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using AgentSpace.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using Microsoft.Extensions.AI;

namespace AgentSpace.Providers;

/// <summary>
/// The built-in provider when no model is configured: deterministic, no network, and honest about it.
/// It reads the untrusted-content envelopes in the prompt (the agent's memories, tool results and the
/// passages retrieved from the documents attached to the agent), picks the sentences that best match the question,
/// and quotes them with numbered citations. With nothing relevant it says so. It never composes text
/// of its own beyond that frame, and never claims to be a language model.
/// </summary>
public sealed partial class OfflineChatClient : IChatClient
{
    public const string Label = "Offline";
    public const string ModelId = "offline-retrieval";
    private const int MaxQuotes = 3;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var answer = Answer([.. messages]);
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer)) { ModelId = ModelId, FinishReason = ChatFinishReason.Stop });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var answer = Answer([.. messages]);
        foreach (var piece in Pieces().Matches(answer).Select(m => m.Value))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = ModelId };
            await Task.Yield();
        }
        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, FinishReason = ChatFinishReason.Stop, ModelId = ModelId };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    /// <summary>The whole answer for a conversation, deterministic in its input.</summary>
    public static string Answer(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var question = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
        var passages = messages
            .Where(m => m.Role != ChatRole.User)
            .SelectMany(m => UntrustedContent.Find(TextOf(m)))
            .ToList();
        var terms = Terms(question);
        if (passages.Count == 0)
        {
            return "**Offline** · This agent has no memories or documents to answer from yet, and no language model is configured. " +
                "Add memories on the agent's page, or ask an Admin to connect a model provider under Settings → Models.";
        }
        var sentences = passages
            .SelectMany((p, passage) => Sentences(p.Text).Select((s, order) => (Passage: passage, Order: order, Text: s, Terms: Terms(s))))
            .Where(s => s.Terms.Count > 0)
            .ToList();
        var documentFrequency = sentences.SelectMany(s => s.Terms).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var ranked = sentences
            .Select(s => (s.Passage, s.Order, s.Text, Score: terms.Where(s.Terms.Contains).Sum(t => Math.Log(1 + sentences.Count / (double)documentFrequency[t]))))
            .Where(s => s.Score > 0)
            .OrderByDescending(s => s.Score).ThenBy(s => s.Passage).ThenBy(s => s.Order)
            .Take(MaxQuotes)
            .OrderBy(s => s.Passage).ThenBy(s => s.Order)
            .ToList();
        if (ranked.Count == 0)
        {
            return "**Offline** · I found nothing about that in this agent's memories or documents. " +
                "I answer only by quoting what the agent has been given; no language model is configured.";
        }
        // A retrieved document passage carries its number for this turn ("[3] manual.pdf · page 2"): it is cited by that
        // number, so the answer's marks match the turn's sources. Other passages (memories) are numbered after them.
        var numbered = passages.Select(p => SourceNumber().Match(p.Source)).ToList();
        var next = numbered.Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
        var numbers = new Dictionary<int, int>();
        foreach (var passage in ranked.Select(r => r.Passage).Distinct())
        {
            numbers[passage] = numbered[passage].Success ? int.Parse(numbered[passage].Groups[1].Value, CultureInfo.InvariantCulture) : ++next;
        }
        var answer = new StringBuilder("**Offline** · From what this agent has been given:\n\n");
        foreach (var quote in ranked)
        {
            answer.Append("> ").Append(quote.Text.Trim()).Append(" [").Append(numbers[quote.Passage]).Append("]\n\n");
        }
        answer.Append("Sources:\n");
        foreach (var (passage, number) in numbers.OrderBy(n => n.Value))
        {
            var source = numbered[passage].Success ? passages[passage].Source[numbered[passage].Length..] : passages[passage].Source;
            answer.Append(CultureInfo.InvariantCulture, $"{number}. {source}\n");
        }
        return answer.ToString().TrimEnd();
    }

    private static string TextOf(ChatMessage message) =>
        string.Join("\n", message.Contents.Select(c => c switch
        {
            TextContent text => text.Text,
            FunctionResultContent result => result.Result?.ToString() ?? "",
            _ => "",
        }));

    private static IEnumerable<string> Sentences(string text) =>
        SentenceSplit().Split(text).Select(s => s.Trim()).Where(s => s.Length > 0);

    private static HashSet<string> Terms(string text) =>
        [.. Words().Matches(text.ToLowerInvariant()).Select(m => Stem(m.Value)).Where(w => w.Length >= 3 && !StopWords.Contains(w))];

    private static string Stem(string word) =>
        word.Length > 5 && word.EndsWith("ing", StringComparison.Ordinal) ? word[..^3]
        : word.Length > 4 && word.EndsWith("ed", StringComparison.Ordinal) ? word[..^2]
        : word.Length > 3 && word.EndsWith('s') && !word.EndsWith("ss", StringComparison.Ordinal) ? word[..^1]
        : word;

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out", "has",
        "him", "his", "how", "its", "may", "new", "now", "old", "see", "two", "who", "did", "get", "let", "she", "too", "use",
        "that", "with", "have", "this", "will", "your", "from", "they", "know", "want", "been", "good", "much", "some", "time",
        "what", "when", "where", "which", "while", "there", "their", "them", "then", "than", "these", "those", "would", "could",
        "should", "about", "into", "does", "tell", "please", "also", "just", "like", "very", "more", "most", "such", "only",
    };

    [GeneratedRegex(@"[\p{L}\p{N}]+", RegexOptions.CultureInvariant)]
    private static partial Regex Words();

    [GeneratedRegex(@"(?<=[.!?])\s+|\n+", RegexOptions.CultureInvariant)]
    private static partial Regex SentenceSplit();

    [GeneratedRegex(@"\S+\s*|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Pieces();

    [GeneratedRegex(@"^\[(\d{1,3})\] ", RegexOptions.CultureInvariant)]
    private static partial Regex SourceNumber();
}
