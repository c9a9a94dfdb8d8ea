using System.Globalization;
using System.Text.RegularExpressions;
using AgentSpace.Knowledge;

namespace AgentSpace.Chat;

/// <summary>
/// The passages one turn retrieved, numbered in the order they were first seen ([1], [2], ...). The same passage
/// keeps its number however often it comes back. Used by the prompt, the knowledge tool and the stored sources.
/// </summary>
public sealed partial class TurnCitations
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, (int Number, KnowledgeHit Hit)> _byChunk = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byChunk.Count;
            }
        }
    }

    /// <summary>The passage's number in this turn.</summary>
    public int Register(KnowledgeHit hit)
    {
        ArgumentNullException.ThrowIfNull(hit);
        lock (_lock)
        {
            if (_byChunk.TryGetValue(hit.ChunkId, out var known))
            {
                return known.Number;
            }
            var number = _byChunk.Count + 1;
            _byChunk[hit.ChunkId] = (number, hit);
            return number;
        }
    }

    /// <summary>"[n] name · page 3 · Heading › Sub": the label a passage carries in the prompt and in the answer's source list.</summary>
    public static string Label(int number, KnowledgeHit hit)
    {
        ArgumentNullException.ThrowIfNull(hit);
        return Label(number, hit.DocumentName, hit.Page, hit.HeadingPath);
    }

    public static string Label(int number, string documentName, int? page, string headingPath)
    {
        var label = $"[{number.ToString(CultureInfo.InvariantCulture)}] {documentName}";
        if (page is { } p)
        {
            label += " · page " + p.ToString(CultureInfo.InvariantCulture);
        }
        if (headingPath.Length > 0)
        {
            label += " · " + headingPath;
        }
        return label;
    }

    /// <summary>
    /// The sources to keep with the answer: those its text cites by number, or all retrieved when it cites none
    /// (a model that used the passages without saying which).
    /// </summary>
    public IReadOnlyList<TurnSource> SourcesFor(Guid messageId, string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        List<(int Number, KnowledgeHit Hit)> all;
        lock (_lock)
        {
            all = [.. _byChunk.Values.OrderBy(v => v.Number)];
        }
        var cited = CitationMark().Matches(answer).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToHashSet();
        var kept = all.Where(v => cited.Contains(v.Number)).ToList();
        if (kept.Count == 0)
        {
            kept = all;
        }
        return [.. kept.Select(v => new TurnSource
        {
            MessageId = messageId,
            Number = v.Number,
            ChunkId = v.Hit.ChunkId,
            DocumentId = v.Hit.DocumentId,
            DocumentName = v.Hit.DocumentName.Length <= 200 ? v.Hit.DocumentName : v.Hit.DocumentName[..200],
            Page = v.Hit.Page,
            HeadingPath = v.Hit.HeadingPath.Length <= 1000 ? v.Hit.HeadingPath : v.Hit.HeadingPath[..1000],
        })];
    }

    [GeneratedRegex(@"\[(\d{1,3})\]", RegexOptions.CultureInvariant)]
    private static partial Regex CitationMark();
}
