using System.Globalization;

namespace AgentSpace.Workflows.Components;

/// <summary>How the workflow pages word and format what the service returns.</summary>
public static class WorkflowFormat
{
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset? at) => at is { } value ? Time(value) : "—";

    /// <summary>For a table whose header says UTC: the date and time, or only the time when it is on <paramref name="sameDayAs"/>'s date.</summary>
    public static string Cell(DateTimeOffset? at, DateTimeOffset? sameDayAs = null) => at is not { } value ? "—"
        : sameDayAs is { } day && day.UtcDateTime.Date == value.UtcDateTime.Date ? value.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)
        : value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A fire time in the schedule's own zone, as people there read it.</summary>
    public static string InZone(DateTimeOffset at, string? zone)
    {
        try
        {
            var local = TimeZoneInfo.ConvertTime(at, WorkflowScheduler.Zone(zone));
            return local.ToString("ddd yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        }
        catch (ScheduleRuleException)
        {
            return "";
        }
    }

    /// <summary>How long a run or step took: "0.4 s", "12 s", "3 min 5 s"; "—" before it ended.</summary>
    public static string Duration(DateTimeOffset? started, DateTimeOffset? ended)
    {
        if (started is not { } from || ended is not { } to)
        {
            return "—";
        }
        var span = to - from;
        if (span < TimeSpan.Zero)
        {
            span = TimeSpan.Zero;
        }
        return span.TotalSeconds < 10 ? span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
            : span.TotalMinutes < 1 ? span.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s"
            : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes} min {span.Seconds} s");
    }

    /// <summary>A run costs fractions of a cent, so four decimals: $0.0042.</summary>
    public static string Cost(decimal usd) => "$" + usd.ToString("0.0000", CultureInfo.InvariantCulture);

    public static string Tokens(int tokens) => tokens.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Kind(string kind) => kind switch
    {
        StepKinds.Agent => "Agent prompt",
        StepKinds.Knowledge => "Knowledge query",
        StepKinds.Boardroom => "Boardroom session",
        StepKinds.Email => "Email to members",
        StepKinds.Http => "HTTP request",
        StepKinds.Condition => "Condition",
        _ => kind,
    };

    public static string KindExplained(string kind) => kind switch
    {
        StepKinds.Agent => "Sends a prompt to an agent, as a chat by the workflow's owner would; the output is the answer.",
        StepKinds.Knowledge => "Searches the organization's ready documents; the output is the best passages.",
        StepKinds.Boardroom => "Convenes a boardroom session on a question; the output is its decision.",
        StepKinds.Email => "Emails the organization's members or its Admins.",
        StepKinds.Http => "Sends a request to a host on the organization's allow-list; the output is the status and body.",
        StepKinds.Condition => "Looks for a text in another text and continues or stops the run.",
        _ => "",
    };

    public static string Trigger(string trigger) => trigger switch
    {
        RunTriggers.Manual => "Run now",
        RunTriggers.Schedule => "Schedule",
        RunTriggers.Webhook => "Webhook",
        RunTriggers.Rerun => "Re-run",
        _ => trigger,
    };

    public static string Recipients(string? recipients) => recipients switch
    {
        EmailRecipients.Members => "Every member",
        EmailRecipients.Admins => "Admins and Owners",
        _ => recipients ?? "",
    };

    /// <summary>"*/5 * * * * (Europe/Lisbon)", or "Off" / "None" when the workflow does not run on a schedule.</summary>
    public static string Schedule(string? cron, string zone, bool enabled) =>
        cron is null ? "None" : enabled ? $"{cron} ({zone})" : $"Off ({cron}, {zone})";

    public static string Cut(string text, int max)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= max ? text : text[..(max - 1)].TrimEnd() + "…";
    }
}
