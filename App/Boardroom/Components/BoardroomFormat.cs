using System.Globalization;

namespace AgentSpace.Boardroom.Components;

/// <summary>How the boardroom pages word and format what the service returns.</summary>
public static class BoardroomFormat
{
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A single call costs fractions of a cent, so turns show four decimals: $0.0042.</summary>
    public static string Cost(decimal usd) => "$" + usd.ToString("0.0000", CultureInfo.InvariantCulture);

    public static string Usd(decimal usd) => "$" + usd.ToString("#,0.00##", CultureInfo.InvariantCulture);

    public static string Tokens(int tokens) => tokens.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>"1 turn", "3 turns".</summary>
    public static string Turns(int turns) => turns == 1 ? "1 turn" : Tokens(turns) + " turns";

    /// <summary>A confidence of 0–1 as a whole percentage; "unknown" when the member gave none.</summary>
    public static string Percent(double? confidence) =>
        confidence is { } c ? Math.Round(c * 100).ToString("0", CultureInfo.InvariantCulture) + "%" : "unknown";

    public static string Kind(string kind) => kind switch
    {
        TurnKinds.Member => "Member",
        TurnKinds.Synthesis => "Chair synthesis",
        TurnKinds.Pick => "Chair pick",
        TurnKinds.Record => "Decision record",
        TurnKinds.Note => "Note",
        _ => kind,
    };

    public static string Mode(string mode) => mode switch
    {
        BoardroomModes.Sealed => "Sealed",
        BoardroomModes.Open => "Open",
        _ => mode,
    };

    public static string ModeExplained(string mode) => mode switch
    {
        BoardroomModes.Sealed => "Each member sees the brief, its own earlier turns and the chair's syntheses, so members do not echo each other.",
        BoardroomModes.Open => "Each member also reads what the others said in every round.",
        _ => "",
    };

    public static string Order(string order) => order switch
    {
        SpeakerOrders.RoundRobin => "Round-robin",
        SpeakerOrders.ChairPicks => "Chair picks",
        _ => order,
    };

    public static string OrderExplained(string order) => order switch
    {
        SpeakerOrders.RoundRobin => "Members speak in seat order every round.",
        SpeakerOrders.ChairPicks => "The chair names who speaks next (one short model call per pick).",
        _ => "",
    };

    /// <summary>A member's stated stance, as a chip says it.</summary>
    public static string Stance(string stance) => stance switch
    {
        "agree" => "Agrees",
        "disagree" => "Disagrees",
        "undecided" => "Undecided",
        _ => stance,
    };

    public static string Cut(string text, int max)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= max ? text : text[..(max - 1)].TrimEnd() + "…";
    }
}
