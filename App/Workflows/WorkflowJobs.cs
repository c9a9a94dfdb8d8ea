using Quartz;

namespace AgentSpace.Workflows;

/// <summary>
/// Runs one stored run. Requests recovery: when the node running it dies, another node (or this one, restarted)
/// runs it again, and the runner goes on from the first step not done.
/// </summary>
[DisallowConcurrentExecution]
public sealed class WorkflowRunJob(WorkflowRunner runner, ILogger<WorkflowRunJob> logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = context.MergedJobDataMap;
        var organizationId = WorkflowScheduler.IdOf(data, WorkflowScheduler.OrganizationKey);
        var runId = WorkflowScheduler.IdOf(data, WorkflowScheduler.RunKey);
        try
        {
            await runner.RunAsync(organizationId, runId, context.Scheduler.SchedulerInstanceId, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The run cannot be taken up (its organization is gone, the database refused): say so on the run, once.
            logger.LogError(ex, "Workflow run {RunId} of organization {OrganizationId} could not run", runId, organizationId);
            try
            {
                await runner.FailAsync(organizationId, runId, WorkflowRunner.ShownError(ex), CancellationToken.None);
            }
            catch (Exception inner) when (inner is not OperationCanceledException)
            {
                logger.LogError(inner, "Workflow run {RunId} could not be marked failed", runId);
            }
        }
    }
}

/// <summary>One schedule's firing: stores the run for this fire time (once, whichever node fires it) and queues it.</summary>
public sealed class WorkflowScheduleJob(WorkflowService workflows, ILogger<WorkflowScheduleJob> logger) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var data = context.MergedJobDataMap;
        var organizationId = WorkflowScheduler.IdOf(data, WorkflowScheduler.OrganizationKey);
        var workflowId = WorkflowScheduler.IdOf(data, WorkflowScheduler.WorkflowKey);
        var scheduled = context.ScheduledFireTimeUtc ?? context.FireTimeUtc;
        logger.LogDebug("Schedule of workflow {WorkflowId} fired for {Scheduled} on {Node}", workflowId, WorkflowScheduler.Utc(scheduled), context.Scheduler.SchedulerInstanceId);
        try
        {
            await workflows.QueueScheduledRunAsync(organizationId, workflowId, scheduled, context.FireTimeUtc, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Schedule of workflow {WorkflowId} (organization {OrganizationId}) could not queue its run for {Scheduled}",
                workflowId, organizationId, scheduled);
        }
    }
}

/// <summary>
/// Starts this node's scheduler with the app (when <c>Workflows:Scheduler:Enabled</c>), in the background: the app
/// serves (and reports itself not ready) while the database is away, and the scheduler joins the cluster once it can,
/// trying again every 10 seconds. Once joined, it sweeps for what stopped nodes left behind (<see cref="WorkflowRecovery"/>)
/// at once and then every <c>Workflows:Scheduler:SweepInterval</c>. On shutdown it stops taking firings and waits for
/// the runs in flight.
/// </summary>
public sealed class WorkflowSchedulerHost(
    ISchedulerFactory factory,
    IServiceScopeFactory scopes,
    Microsoft.Extensions.Options.IOptions<WorkflowSchedulerOptions> options,
    IConfiguration configuration,
    TimeProvider clock,
    ILogger<WorkflowSchedulerHost> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _starting;
    private IScheduler? _scheduler;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Without a connection string the app refuses to start on its own (ConnectionStringCheck).
        if (options.Value.Enabled && !string.IsNullOrWhiteSpace(configuration.GetConnectionString("Default")))
        {
            _starting = Task.Run(() => JoinAsync(_stopping.Token), CancellationToken.None);
        }
        return Task.CompletedTask;
    }

    private async Task JoinAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var scheduler = await factory.GetScheduler(ct);
                await scheduler.Start(ct);
                _scheduler = scheduler;
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("The workflow scheduler could not start ({Reason}); trying again in 10 s.", ex.GetBaseException().Message);
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        // Joined (Start returns after the first check-in, which also recovered the jobs of nodes that stopped): now what
        // the scheduler cannot see — runs stored but never queued, runs whose job is gone, effects left pending.
        await SweepAsync(ct);
    }

    private async Task SweepAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var sweep = await scope.ServiceProvider.GetRequiredService<WorkflowRecovery>().SweepAsync(ct);
                if (sweep.Any)
                {
                    logger.LogWarning("Workflow recovery: {Queued} run(s) queued, {Failed} run(s) failed, {Sent} effect(s) sent, {GivenUp} effect(s) given up",
                        sweep.RunsQueued, sweep.RunsFailed, sweep.EffectsSent, sweep.EffectsGivenUp);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Workflow recovery sweep failed; trying again in {Interval}", options.Value.SweepInterval);
            }
            try
            {
                await Task.Delay(options.Value.SweepInterval, clock, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_starting is not null)
        {
            await _starting;
        }
        if (_scheduler is { } scheduler)
        {
            await scheduler.Shutdown(waitForJobsToComplete: true, cancellationToken);
        }
    }

    public void Dispose() => _stopping.Dispose();
}
