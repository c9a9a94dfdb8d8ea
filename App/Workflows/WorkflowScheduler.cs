using System.Globalization;
using Quartz;

namespace AgentSpace.Workflows;

/// <summary>How this node takes part in running workflows (<c>Workflows:Scheduler</c>).</summary>
public sealed class WorkflowSchedulerOptions
{
    public const string Section = "Workflows:Scheduler";

    /// <summary>False: this node runs no workflow (a web-only node); runs it queues are run by the nodes that do.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How many runs and firings this node works on at once.</summary>
    public int MaxConcurrency { get; set; } = 10;

    /// <summary>How often a node tells the cluster it is alive.</summary>
    public TimeSpan CheckinInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a node may be silent before another takes over its firings and recovers its runs.</summary>
    public TimeSpan CheckinMisfireThreshold { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How late a firing may start before it counts as missed (then the misfire policy decides).</summary>
    public TimeSpan MisfireThreshold { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many due triggers a node claims in one round; unset: Quartz's own choice (on a database store, the thread
    /// pool's size). At most <see cref="MaxConcurrency"/>: a claimed trigger waits for a free thread on that node.
    /// </summary>
    public int? MaxBatchSize { get; set; }

    /// <summary>How far ahead of its fire time a trigger may be claimed into a round (and so fire early); unset: Quartz's default, none.</summary>
    public TimeSpan? BatchFireAheadWindow { get; set; }

    /// <summary>How long an idle node waits before it looks for due triggers again; unset: Quartz's default (30 s).</summary>
    public TimeSpan? IdleWaitTime { get; set; }

    /// <summary>
    /// Whether storing a job and its trigger (every queued run does) takes the cluster-wide <c>TRIGGER_ACCESS</c> row lock;
    /// unset: Quartz's default (it does). A run's job and trigger are keyed by the new run's id, so no two nodes store the same one.
    /// </summary>
    public bool? LockOnInsert { get; set; }

    /// <summary>
    /// How often this node looks, in every organization, for runs and effects a stopped node left behind
    /// (<see cref="WorkflowRecovery"/>); it also looks once as soon as it has joined the cluster.
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>A cron expression and time zone that cannot be a schedule; the message is safe to show.</summary>
public sealed class ScheduleRuleException(string message) : Hosting.UserFacingException(message, 400);

/// <summary>
/// The workflows' side of Quartz: one job per schedule (keyed by organization and workflow, its data ids only),
/// one short-lived job per run, and the next fire times, computed by Quartz's own <see cref="CronExpression"/> —
/// the engine that fires them. Misfire policy for schedules: fire once now and go on (a node outage makes one
/// late run, not one per missed minute, and never none).
/// </summary>
public sealed class WorkflowScheduler(ISchedulerFactory factory)
{
    public const string RunGroup = "workflow-runs";
    public const string OrganizationKey = "organization";
    public const string WorkflowKey = "workflow";
    public const string RunKey = "run";

    /// <summary>The group of an organization's schedule jobs: "t:" and its id.</summary>
    public static string ScheduleGroup(Guid organizationId) => "t:" + organizationId.ToString("N");

    public static JobKey ScheduleJobKey(Guid organizationId, Guid workflowId) => new(workflowId.ToString("N"), ScheduleGroup(organizationId));

    /// <summary>
    /// Reads a standard 5-field cron expression (minute, hour, day of month, month, day of week with 0 and 7 for
    /// Sunday) in an IANA time zone, as Quartz will fire it. Throws <see cref="ScheduleRuleException"/> with the reason.
    /// </summary>
    public static CronExpression Parse(string? cron, string? timeZone)
    {
        var text = (cron ?? "").Trim();
        if (text.Length == 0)
        {
            throw new ScheduleRuleException("Write a cron expression, such as */5 * * * * for every five minutes.");
        }
        if (text.Length > WorkflowLimits.MaxCron)
        {
            throw new ScheduleRuleException($"A cron expression is at most {WorkflowLimits.MaxCron} characters.");
        }
        if (text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 5)
        {
            throw new ScheduleRuleException("Use the standard five fields: minute, hour, day of month, month, day of week (for example 0 9 * * 1-5).");
        }
        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // Standard cron ORs the two day fields when both are restricted, but ANDs them when one starts with "*"
        // (as in "*/2"); Quartz ORs them always. Refused rather than fired on days the expression never named.
        if (fields[2] != "*" && fields[4] != "*" && (fields[2].StartsWith('*') || fields[4].StartsWith('*')))
        {
            throw new ScheduleRuleException("A day-of-month step such as */2 cannot be combined with days of the week; restrict one of the two fields only.");
        }
        // A day-of-week field written out as the whole week is a restriction that every day meets, so cron ORed with
        // any day of month fires daily; Quartz would read it as no restriction and keep only the day of month.
        if (fields[4] is "0-6" or "0-7" or "1-7" or "*/1" or "SUN-SAT")
        {
            fields[2] = "*";
            fields[4] = "*";
            text = string.Join(' ', fields);
        }
        var zone = Zone(timeZone);
        if (!CronExpression.TryParse(text, CronFormat.Unix, out var expression) || expression is null)
        {
            string reason;
            try
            {
                CronExpression.Parse(text, CronFormat.Unix);
                reason = "it is not a valid expression";
            }
            catch (FormatException ex)
            {
                reason = ex.Message;
            }
            throw new ScheduleRuleException($"\"{text}\" is not a schedule: {reason}");
        }
        return expression.WithTimeZone(zone);
    }

    public static TimeZoneInfo Zone(string? timeZone)
    {
        var id = string.IsNullOrWhiteSpace(timeZone) ? "UTC" : timeZone.Trim();
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new ScheduleRuleException($"\"{id}\" is not a time zone this server knows (use an IANA name such as Europe/Lisbon).");
        }
    }

    /// <summary>The next <paramref name="count"/> fire times after <paramref name="after"/>, in UTC.</summary>
    public static IReadOnlyList<DateTimeOffset> NextFireTimes(string? cron, string? timeZone, DateTimeOffset after, int count = 5)
    {
        var expression = Parse(cron, timeZone);
        var times = new List<DateTimeOffset>(count);
        var from = after;
        while (times.Count < count && expression.GetNextValidTimeAfter(from) is { } next)
        {
            times.Add(next);
            from = next;
        }
        return times;
    }

    /// <summary>Queues a run's job: the next free thread on any node takes it up; if that node dies, another recovers it.</summary>
    public async Task QueueRunAsync(Guid organizationId, Guid runId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        var job = JobBuilder.Create<WorkflowRunJob>()
            .WithIdentity(runId.ToString("N"), RunGroup)
            .UsingJobData(OrganizationKey, organizationId.ToString("N"))
            .UsingJobData(RunKey, runId.ToString("N"))
            .RequestRecovery()
            .Build();
        var trigger = TriggerBuilder.Create().WithIdentity(runId.ToString("N"), RunGroup).ForJob(job).StartNow().Build();
        await scheduler.ScheduleJob(job, trigger, new ScheduleJobOptions { Replace = true }, ct);
    }

    /// <summary>Whether a run's job is still in the store (queued, or running somewhere).</summary>
    public async Task<bool> RunQueuedAsync(Guid runId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        return await scheduler.Exists(new JobKey(runId.ToString("N"), RunGroup), ct);
    }

    /// <summary>Puts the workflow's schedule in the store (replacing the one it had), or takes it out when it has none.</summary>
    public async Task SyncScheduleAsync(Guid organizationId, Guid workflowId, string? cron, string timeZone, bool enabled, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        var key = ScheduleJobKey(organizationId, workflowId);
        if (!enabled || string.IsNullOrWhiteSpace(cron))
        {
            await scheduler.DeleteJob(key, ct);
            return;
        }
        var expression = Parse(cron, timeZone);
        var job = JobBuilder.Create<WorkflowScheduleJob>()
            .WithIdentity(key)
            .UsingJobData(OrganizationKey, organizationId.ToString("N"))
            .UsingJobData(WorkflowKey, workflowId.ToString("N"))
            .StoreDurably()
            .Build();
        var trigger = TriggerBuilder.Create()
            .WithIdentity(key.Name, key.Group)
            .ForJob(job)
            .WithSchedule(CronScheduleBuilder.Create(expression).InTimeZone(expression.TimeZone).WithMisfireInstruction(CronTriggerMisfireInstruction.FireAndProceed))
            .Build();
        await scheduler.ScheduleJob(job, trigger, new ScheduleJobOptions { Replace = true }, ct);
    }

    public async Task RemoveScheduleAsync(Guid organizationId, Guid workflowId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        await scheduler.DeleteJob(ScheduleJobKey(organizationId, workflowId), ct);
    }

    /// <summary>Whether the workflow's schedule job is in the store.</summary>
    public async Task<bool> ScheduleStoredAsync(Guid organizationId, Guid workflowId, CancellationToken ct)
    {
        var scheduler = await factory.GetScheduler(ct);
        return await scheduler.Exists(ScheduleJobKey(organizationId, workflowId), ct);
    }

    internal static Guid IdOf(JobDataMap data, string key) =>
        data.TryGetValue(key, out var value) && value is string text ? Guid.ParseExact(text, "N") : throw new InvalidOperationException($"The job has no {key}.");

    internal static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
