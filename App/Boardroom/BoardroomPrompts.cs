using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AgentSpace.Chat;
using Microsoft.Extensions.AI;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace AgentSpace.Boardroom;

/// <summary>A participant as the prompts need it.</summary>
internal sealed record Seat(Guid AgentId, string Name, string Instructions);

/// <summary>A passage given to participants, with its session number.</summary>
internal sealed record SessionPassage(int Number, string Label, string Text);

/// <summary>
/// What each participant is shown. Only the brief's question is the members' own words; the brief's context,
/// document passages, people's notes, the chair's syntheses and (open mode) other members' words enter only inside
/// the untrusted-content envelope. In sealed mode a member never sees another member's raw words: only the brief,
/// its own earlier turns and the chair's syntheses.
/// </summary>
internal static partial class BoardroomPrompts
{
    public const int MemberWords = 220;

    public static List<ChatMessage> Member(BoardroomSession session, Seat member, IReadOnlyList<Seat> members, int round,
        IReadOnlyList<BoardroomTurn> turns, IReadOnlyList<SessionPassage> passages)
    {
        var system = new StringBuilder(Preamble(member.Instructions));
        system.Append(CultureInfo.InvariantCulture,
            $"\n\nYou are {member.Name}, one of {members.Count} members of a board that deliberates on the question below in rounds; a chair sums up after each round. ");
        system.Append(CultureInfo.InvariantCulture, $"The session has at most {session.MaxRounds} round{(session.MaxRounds == 1 ? "" : "s")}. ");
        system.Append(CultureInfo.InvariantCulture, $"Give your own view in at most {MemberWords} words, answering the chair's latest synthesis when there is one, and cite passages by their numbers like [1]. ");
        system.Append("End with two lines:\nPOSITION: agree, disagree or undecided (about the chair's latest proposal; undecided when there is none yet)\nCONFIDENCE: a number from 0 to 1");
        AppendPassages(system, passages);
        var messages = new List<ChatMessage> { new(ChatRole.System, system.ToString()), new(ChatRole.User, Brief(session)) };
        var own = turns.Where(t => t.Kind == TurnKinds.Member && t.AgentId == member.AgentId && Usable(t)).ToList();
        for (var k = 1; k <= round; k++)
        {
            var mine = own.FirstOrDefault(t => t.Round == k);
            if (k < round && mine is null)
            {
                continue;
            }
            var previous = own.LastOrDefault(t => t.Round < k);
            var heard = new StringBuilder().Append(CultureInfo.InvariantCulture, $"Round {k} of {session.MaxRounds}. Your turn.");
            foreach (var synthesis in turns.Where(t => t.Kind == TurnKinds.Synthesis && t.Round == k - 1 && Usable(t)))
            {
                heard.Append("\n\n").Append(UntrustedContent.Wrap($"chair {synthesis.Speaker}: synthesis of round {synthesis.Round}", synthesis.Content));
            }
            if (session.Mode == BoardroomModes.Open)
            {
                // Others' words since this member last spoke, up to its turn in round k.
                var until = mine?.Sequence ?? int.MaxValue;
                foreach (var other in turns.Where(t => t.Kind == TurnKinds.Member && t.AgentId != member.AgentId && Usable(t)
                    && t.Sequence > (previous?.Sequence ?? 0) && t.Sequence < until && t.Round >= k - 1))
                {
                    heard.Append("\n\n").Append(UntrustedContent.Wrap($"member {other.Speaker}: round {other.Round}", other.Content));
                }
            }
            AppendNotes(heard, turns, k);
            if (k == round)
            {
                // The question last, as the message being answered (the offline provider answers the last one).
                heard.Append("\n\nThe question: ").Append(session.Question.Trim());
            }
            messages.Add(new ChatMessage(ChatRole.User, heard.ToString()));
            if (mine is not null && k < round)
            {
                messages.Add(new ChatMessage(ChatRole.Assistant, mine.Content));
            }
        }
        return messages;
    }

    public static List<ChatMessage> Synthesis(BoardroomSession session, Seat chair, IReadOnlyList<Seat> members, int round,
        IReadOnlyList<BoardroomTurn> turns, IReadOnlyList<SessionPassage> passages)
    {
        var system = new StringBuilder(Preamble(chair.Instructions));
        system.Append(CultureInfo.InvariantCulture, $"\n\nYou are {chair.Name}, the chair of a board of {members.Count} members: {Names(members)}. ");
        system.Append("After each round you write a short synthesis: where each member stands, and one proposal the board could adopt. ");
        system.Append("Then judge whether the board has reached consensus: every member agrees with the proposal. ");
        system.Append("End with one line: CONSENSUS: yes, or CONSENSUS: no");
        AppendPassages(system, passages);
        var messages = new List<ChatMessage> { new(ChatRole.System, system.ToString()), new(ChatRole.User, Brief(session)) };
        for (var k = 1; k <= round; k++)
        {
            var heard = Contributions(turns, k, session.MaxRounds);
            messages.Add(new ChatMessage(ChatRole.User, k == round ? heard + "\n\nSynthesize this round. The question: " + session.Question.Trim() : heard));
            if (k < round && turns.FirstOrDefault(t => t.Kind == TurnKinds.Synthesis && t.Round == k && Usable(t)) is { } earlier)
            {
                messages.Add(new ChatMessage(ChatRole.Assistant, earlier.Content));
            }
        }
        return messages;
    }

    public static List<ChatMessage> Pick(BoardroomSession session, Seat chair, IReadOnlyList<Seat> remaining, int round, IReadOnlyList<BoardroomTurn> turns)
    {
        var system = new StringBuilder(Preamble(chair.Instructions));
        system.Append(CultureInfo.InvariantCulture, $"\n\nYou are {chair.Name}, the chair of a board. Choose who speaks next in round {round}, among the members who have not spoken in it yet: {Names(remaining)}. ");
        system.Append("Reply with that member's name only.");
        var messages = new List<ChatMessage> { new(ChatRole.System, system.ToString()), new(ChatRole.User, Brief(session)) };
        if (round > 1)
        {
            messages.Add(new ChatMessage(ChatRole.User, Contributions(turns, round - 1, session.MaxRounds)));
        }
        messages.Add(new ChatMessage(ChatRole.User, Contributions(turns, round, session.MaxRounds) + "\n\nWho speaks next?"));
        return messages;
    }

    public static List<ChatMessage> Record(BoardroomSession session, Seat chair, IReadOnlyList<Seat> members, IReadOnlyList<BoardroomTurn> turns,
        IReadOnlyList<SessionPassage> passages, string stopReason)
    {
        var system = new StringBuilder(Preamble(chair.Instructions));
        system.Append(CultureInfo.InvariantCulture, $"\n\nYou are {chair.Name}, the chair of a board of {members.Count} members: {Names(members)}. ");
        system.Append(CultureInfo.InvariantCulture, $"The deliberation has ended ({StopReasons.Describe(stopReason).ToLowerInvariant()}). Write the board's decision record ");
        system.Append("as one JSON object and nothing else, with these fields: ");
        system.Append("\"decision\" (string), \"rationale\" (string), \"options\" (array of {\"option\", \"assessment\"}), ");
        system.Append("\"positions\" (array of {\"member\", \"position\", \"confidence\" from 0 to 1}), one per member, ");
        system.Append("\"dissent\" (array of {\"member\", \"reason\"}; empty when all agree), \"risks\" (array of strings), ");
        system.Append("\"action_items\" (array of {\"action\", \"owner\", \"due\" as YYYY-MM-DD or null}), ");
        system.Append("\"citations\" (array of the passage numbers the decision rests on). Use the members' names exactly as given.");
        AppendPassages(system, passages);
        var messages = new List<ChatMessage> { new(ChatRole.System, system.ToString()), new(ChatRole.User, Brief(session)) };
        var last = turns.Where(t => t.Kind == TurnKinds.Member && Usable(t)).Select(t => t.Round).DefaultIfEmpty(0).Max();
        for (var k = 1; k <= last; k++)
        {
            messages.Add(new ChatMessage(ChatRole.User, Contributions(turns, k, session.MaxRounds)));
            if (turns.FirstOrDefault(t => t.Kind == TurnKinds.Synthesis && t.Round == k && Usable(t)) is { } synthesis)
            {
                messages.Add(new ChatMessage(ChatRole.Assistant, synthesis.Content));
            }
        }
        messages.Add(new ChatMessage(ChatRole.User, "Write the decision record now, as the JSON object described."));
        return messages;
    }

    /// <summary>The member's stated stance and confidence, from its closing lines.</summary>
    public static (string? Stance, double? Confidence) MemberStance(string text)
    {
        var position = Position().Matches(text ?? "").LastOrDefault();
        var confidence = ConfidenceLine().Matches(text ?? "").LastOrDefault();
        return (position?.Groups[1].Value.ToLowerInvariant(), confidence is null ? null : ParseConfidence(confidence.Groups[1].Value, confidence.Groups[2].Success));
    }

    /// <summary>The chair's consensus judgement: true only for an explicit yes on its last consensus line.</summary>
    public static bool Consensus(string text)
    {
        var line = ConsensusLine().Matches(text ?? "").LastOrDefault();
        return line is not null && line.Groups[1].Value.ToLowerInvariant() is "yes" or "reached" or "true";
    }

    /// <summary>The member the chair named: the first of <paramref name="remaining"/> whose name its reply contains, else the next in seat order.</summary>
    public static Seat Picked(string reply, IReadOnlyList<Seat> remaining)
    {
        var text = reply ?? "";
        return remaining
            .Select(s => (Seat: s, At: text.IndexOf(s.Name, StringComparison.OrdinalIgnoreCase)))
            .Where(x => x.At >= 0)
            .OrderBy(x => x.At).ThenByDescending(x => x.Seat.Name.Length)
            .Select(x => x.Seat)
            .FirstOrDefault() ?? remaining[0];
    }

    /// <summary>The text without the closing control lines (position, confidence, consensus), for records and summaries.</summary>
    public static string WithoutControlLines(string text) =>
        ControlLine().Replace(text ?? "", "").Trim();

    internal static bool Usable(BoardroomTurn turn) =>
        turn.Status == BoardroomTurnStatus.Complete && turn.Content.Length > 0;

    private static string Preamble(string instructions)
    {
        var text = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(instructions))
        {
            text.Append(instructions.Trim()).Append("\n\n");
        }
        return text.Append(UntrustedContent.Rule).ToString();
    }

    private static string Brief(BoardroomSession session)
    {
        var text = new StringBuilder("The question before the board:\n").Append(session.Question.Trim());
        if (!string.IsNullOrWhiteSpace(session.Context))
        {
            text.Append("\n\nContext given with the brief:\n").Append(UntrustedContent.Wrap("brief context", session.Context));
        }
        return text.ToString();
    }

    private static string Contributions(IReadOnlyList<BoardroomTurn> turns, int round, int maxRounds)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"Round {round} of {maxRounds}: what the members said.");
        var any = false;
        foreach (var turn in turns.Where(t => t.Kind == TurnKinds.Member && t.Round == round && Usable(t)).OrderBy(t => t.Sequence))
        {
            text.Append("\n\n").Append(UntrustedContent.Wrap($"member {turn.Speaker}: round {round}", turn.Content));
            any = true;
        }
        if (!any)
        {
            text.Append("\n\nNo member has spoken yet in this round.");
        }
        AppendNotes(text, turns, round);
        return text.ToString();
    }

    private static void AppendNotes(StringBuilder text, IReadOnlyList<BoardroomTurn> turns, int round)
    {
        foreach (var note in turns.Where(t => t.Kind == TurnKinds.Note && t.Round == round).OrderBy(t => t.CreatedAt))
        {
            text.Append("\n\n").Append(UntrustedContent.Wrap($"note from {note.Speaker}", note.Content));
        }
    }

    private static void AppendPassages(StringBuilder system, IReadOnlyList<SessionPassage> passages)
    {
        if (passages.Count == 0)
        {
            return;
        }
        system.Append("\n\nPassages from the documents given to you:\n");
        foreach (var passage in passages)
        {
            system.Append(UntrustedContent.Wrap(passage.Label, passage.Text)).Append('\n');
        }
    }

    private static string Names(IEnumerable<Seat> seats) => string.Join(", ", seats.Select(s => s.Name));

    private static double? ParseConfidence(string value, bool percent)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }
        if (percent || number > 1)
        {
            number /= 100;
        }
        return number is >= 0 and <= 1 ? Math.Round(number, 3) : null;
    }

    [GeneratedRegex(@"^\W*POSITION\W*[:\-]\s*\**\s*(agree|disagree|undecided)\b", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex Position();

    [GeneratedRegex(@"^\W*CONFIDENCE\W*[:\-]\s*\**\s*([0-9]+(?:\.[0-9]+)?)\s*(%)?", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex ConfidenceLine();

    [GeneratedRegex(@"^\W*CONSENSUS\W*[:\-]\s*\**\s*(yes|no|reached|not reached|true|false)\b", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex ConsensusLine();

    [GeneratedRegex(@"^\W*(POSITION|CONFIDENCE|CONSENSUS)\W*[:\-].*$", RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex ControlLine();
}
