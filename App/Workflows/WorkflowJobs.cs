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
/// Starts this node's scheduler with the app (when <c>Workflows:Scheduler:Enabled</c>) and, on shutdown, stops taking
/// new firings and waits for the runs in flight to record where they are.
/// </summary>
public sealed class WorkflowSchedulerHost(ISchedulerFactory factory, Microsoft.Extensions.Options.IOptions<WorkflowSchedulerOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Enabled)
        {
            var scheduler = await factory.GetScheduler(cancellationToken);
            await scheduler.Start(cancellationToken);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Enabled)
        {
            var scheduler = await factory.GetScheduler(cancellationToken);
            await scheduler.Shutdown(waitForJobsToComplete: true, cancellationToken);
        }
    }
}
