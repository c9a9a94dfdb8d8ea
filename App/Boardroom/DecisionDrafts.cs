using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AgentSpace.Boardroom;

/// <summary>What the session measured, which every record carries whoever wrote the rest.</summary>
internal sealed record SessionFacts(
    BoardroomSession Session,
    IReadOnlyList<Seat> Members,
    IReadOnlyList<BoardroomTurn> Turns,
    IReadOnlyList<BoardroomSource> Sources,
    string StopReason,
    bool ProducedOffline,
    DateTimeOffset EndedAt);

/// <summary>
/// Turns the chair's JSON into a decision record, or assembles one from the turns when no model may write it
/// (offline, a halt, Stop, or a reply that is not the JSON asked for). Text from the model is kept as text and
/// bounded; names that are not members are dropped from positions and dissent.
/// </summary>
internal static partial class DecisionDrafts
{
    private const int MaxText = 4000;
    private const int MaxItems = 50;

    /// <summary>The chair's record, or null when <paramref name="reply"/> holds no usable JSON object.</summary>
    public static DecisionContent? FromChair(string reply, SessionFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var start = (reply ?? "").IndexOf('{', StringComparison.Ordinal);
        var end = (reply ?? "").LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            return null;
        }
        JsonElement root;
        try
        {
            using var json = JsonDocument.Parse(reply![start..(end + 1)], new JsonDocumentOptions { MaxDepth = 16, AllowTrailingCommas = true });
            root = json.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
        if (root.ValueKind != JsonValueKind.Object || Text(root, "decision") is not { Length: > 0 } decision)
        {
            return null;
        }
        var names = facts.Members.ToDictionary(m => m.Name, m => m.Name, StringComparer.OrdinalIgnoreCase);
        var positions = Items(root, "positions")
            .Select(p => (Member: Member(p, names), Position: Text(p, "position") ?? "", Confidence: Number(p, "confidence")))
            .Where(p => p.Member is not null)
            .GroupBy(p => p.Member!, StringComparer.Ordinal)
            .Select(g => new MemberPosition(g.Key, g.First().Position, g.First().Confidence))
            .ToList();
        // Every member has a position: one the chair left out is taken from the member's own last turn.
        foreach (var member in facts.Members.Where(m => positions.All(p => p.Member != m.Name)))
        {
            positions.Add(PositionFromTurns(member, facts.Turns));
        }
        var cited = Items(root, "citations").Select(c => c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var n) ? n : (int?)null)
            .Where(n => n is not null).Select(n => n!.Value).ToHashSet();
        cited.UnionWith(Marks(decision + " " + (Text(root, "rationale") ?? "")));
        return Base(facts) with
        {
            Decision = decision,
            Rationale = Text(root, "rationale") ?? "",
            Options = [.. Items(root, "options").Select(o => new WeighedOption(Text(o, "option") ?? "", Text(o, "assessment") ?? "")).Where(o => o.Option.Length > 0)],
            Positions = [.. facts.Members.Select(m => positions.First(p => p.Member == m.Name))],
            Dissent = [.. Items(root, "dissent").Select(d => (Member: Member(d, names), Reason: Text(d, "reason") ?? "")).Where(d => d.Member is not null)
                .Select(d => new DissentNote(d.Member!, d.Reason))],
            Risks = [.. Items(root, "risks").Select(r => r.ValueKind == JsonValueKind.String ? Bound(r.GetString()) : Text(r, "risk")).Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r!)],
            ActionItems = [.. Items(root, "action_items").Select(a => new ActionItem(Text(a, "action") ?? "", Text(a, "owner") ?? "", Date(a, "due"))).Where(a => a.Action.Length > 0)],
            Citations = Citations(facts, cited),
        };
    }

    /// <summary>A record made from the session's own turns, with no model call: the last synthesis and each member's last stance.</summary>
    public static DecisionContent Assemble(SessionFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var synthesis = facts.Turns.Where(t => t.Kind == TurnKinds.Synthesis && BoardroomPrompts.Usable(t)).OrderBy(t => t.Sequence).LastOrDefault();
        var proposal = synthesis is null ? null : Bound(BoardroomPrompts.WithoutControlLines(synthesis.Content));
        var decision = facts.StopReason == StopReasons.Consensus && proposal is not null
            ? proposal
            : proposal is not null
                ? "No consensus was reached. The chair's last synthesis: " + proposal
                : "No decision: the session ended before the chair's first synthesis.";
        var why = facts.ProducedOffline
            ? "Produced offline: no language model is configured, so the members quoted the passages of their documents and this record was assembled from the session's turns."
            : $"Assembled from the session's turns without a further model call ({StopReasons.Describe(facts.StopReason).ToLowerInvariant()}).";
        var positions = facts.Members.Select(m => PositionFromTurns(m, facts.Turns)).ToList();
        var dissent = facts.Members
            .Select(m => (Member: m, Last: LastTurn(m, facts.Turns)))
            .Where(x => x.Last?.Stance == "disagree")
            .Select(x => new DissentNote(x.Member.Name, Bound(BoardroomPrompts.WithoutControlLines(x.Last!.Content), 600)!))
            .ToList();
        var cited = facts.Turns.Where(BoardroomPrompts.Usable).SelectMany(t => Marks(t.Content)).ToHashSet();
        return Base(facts) with
        {
            Decision = decision,
            Rationale = why,
            Positions = positions,
            Dissent = dissent,
            Citations = Citations(facts, cited),
        };
    }

    private static DecisionContent Base(SessionFacts facts) => new()
    {
        Question = facts.Session.Question,
        Decision = "",
        Rationale = "",
        StopReason = facts.StopReason,
        Chair = facts.Session.ChairName,
        RoundsHeld = facts.Turns.Where(t => t.Kind == TurnKinds.Member && t.Status == BoardroomTurnStatus.Complete).Select(t => t.Round).DefaultIfEmpty(0).Max(),
        ProducedOffline = facts.ProducedOffline,
        StartedAt = facts.Session.CreatedAt,
        EndedAt = facts.EndedAt,
        Costs = Costs(facts),
    };

    private static IReadOnlyList<ParticipantCost> Costs(SessionFacts facts)
    {
        var costs = new List<ParticipantCost>();
        foreach (var member in facts.Members)
        {
            var turns = facts.Turns.Where(t => t.AgentId == member.AgentId && t.Kind == TurnKinds.Member).ToList();
            costs.Add(new ParticipantCost(member.Name, "member", turns.Count(t => t.Status == BoardroomTurnStatus.Complete),
                turns.Sum(t => t.InputTokens), turns.Sum(t => t.OutputTokens), turns.Sum(t => t.CostUsd)));
        }
        var chair = facts.Turns.Where(t => t.Kind is TurnKinds.Synthesis or TurnKinds.Pick or TurnKinds.Record).ToList();
        costs.Add(new ParticipantCost(facts.Session.ChairName, "chair", chair.Count(t => t.Status == BoardroomTurnStatus.Complete),
            chair.Sum(t => t.InputTokens), chair.Sum(t => t.OutputTokens), chair.Sum(t => t.CostUsd)));
        return costs;
    }

    private static BoardroomTurn? LastTurn(Seat member, IReadOnlyList<BoardroomTurn> turns) =>
        turns.Where(t => t.Kind == TurnKinds.Member && t.AgentId == member.AgentId && BoardroomPrompts.Usable(t)).OrderBy(t => t.Sequence).LastOrDefault();

    private static MemberPosition PositionFromTurns(Seat member, IReadOnlyList<BoardroomTurn> turns)
    {
        var last = LastTurn(member, turns);
        if (last is null)
        {
            return new MemberPosition(member.Name, "Did not speak.", null);
        }
        var stance = last.Stance is null ? "" : $"({last.Stance}) ";
        return new MemberPosition(member.Name, stance + Bound(BoardroomPrompts.WithoutControlLines(last.Content), 600), last.Confidence);
    }

    private static IReadOnlyList<DecisionCitation> Citations(SessionFacts facts, HashSet<int> numbers) =>
        [.. facts.Sources.Where(s => numbers.Contains(s.Number)).OrderBy(s => s.Number)
            .Select(s => new DecisionCitation(s.Number, s.DocumentName, s.Page, s.HeadingPath, s.Excerpt))];

    private static IEnumerable<int> Marks(string text) =>
        CitationMark().Matches(text ?? "").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));

    private static IEnumerable<JsonElement> Items(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray().Take(MaxItems) : [];

    private static string? Member(JsonElement item, Dictionary<string, string> names) =>
        Text(item, "member") is { } name && names.TryGetValue(name.Trim(), out var known) ? known : null;

    private static string? Text(JsonElement item, string name) =>
        item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => Bound(value.GetString()),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;

    private static double? Number(JsonElement item, string name)
    {
        if (!item.TryGetProperty(name, out var value))
        {
            return null;
        }
        double? number = value.ValueKind == JsonValueKind.Number ? value.GetDouble()
            : value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString()?.TrimEnd('%'), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed
            : null;
        if (number > 1)
        {
            number /= 100;
        }
        return number is >= 0 and <= 1 ? Math.Round(number.Value, 3) : null;
    }

    private static DateOnly? Date(JsonElement item, string name) =>
        Text(item, name) is { } text && DateOnly.TryParseExact(text.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date) ? date : null;

    private static string? Bound(string? text, int max = MaxText)
    {
        if (text is null)
        {
            return null;
        }
        var trimmed = text.Trim();
        return trimmed.Length <= max ? trimmed : trimmed[..max] + "…";
    }

    [GeneratedRegex(@"\[(\d{1,3})\]", RegexOptions.CultureInvariant)]
    private static partial Regex CitationMark();
}
