using System.Diagnostics;
using AgentSpace.Tenancy;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Xunit.Abstractions;

namespace AgentSpace.E2E.Workflows;

/// <summary>
/// A node is killed with SIGKILL in the middle of a run and a second node, started on the same database, takes the
/// run up: in real App.dll processes, with the clustered scheduler's own recovery and the app's recovery sweep.
/// </summary>
public sealed class WorkflowCrashTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task KillNineMidStep_SecondNodeFinishesTheRun_EachEffectReachesTheReceiverOnceByItsKey()
    {
        await using var receiver = await EffectReceiver.StartAsync();
        await using var nodes = await WorkflowNodes.CreateAsync();
        var first = await nodes.StartNodeAsync();

        var (owner, org) = await nodes.CreateOrgAsync("crash");
        var workflows = nodes.Get<WorkflowService>();
        await workflows.AllowHostAsync(owner, org.Slug, new Uri(receiver.BaseUrl).Host, default);
        var workflowId = await workflows.SaveAsync(owner, org.Slug, null, new WorkflowInput("Crash", null,
        [
            new WorkflowStep { Name = "announce", Kind = StepKinds.Http, Method = "POST", Url = receiver.BaseUrl + "/effects/announce", Text = "starting" },
            new WorkflowStep { Name = "notify", Kind = StepKinds.Email, Recipients = EmailRecipients.Members, Subject = "Crash test", Text = "Announced: {{announce}}" },
            // The receiver holds the first request of this one for 30 s: the node is killed while it waits for the answer.
            new WorkflowStep { Name = "slow", Kind = StepKinds.Http, Method = "POST", Url = receiver.BaseUrl + "/slow/report", Text = "the slow part" },
            new WorkflowStep { Name = "finish", Kind = StepKinds.Http, Method = "POST", Url = receiver.BaseUrl + "/effects/finish", Text = "done" },
        ], null, null, false), default);

        var runId = await workflows.RunNowAsync(owner, org.Slug, workflowId, default);
        var slowReached = await Task.WhenAny(receiver.SlowReached, Task.Delay(RecoveryLimit));
        Assert.True(slowReached == receiver.SlowReached, $"The run never reached its slow step. Node output:\n{first.Output}");
        var before = await workflows.RunAsync(owner, org.Slug, runId, default);
        Assert.Equal(RunStatus.Running, before.Run.Status);
        Assert.Equal(StepStatus.Running, before.Steps[2].Status);

        await first.KillAsync();
        var killedAt = Stopwatch.StartNew();
        output.WriteLine($"Killed node 1 (pid {first.ProcessId}) while step 3 waited for the receiver.");

        // What a node killed between storing a run and queuing its job leaves: a queued row the scheduler never heard of.
        var sweptId = await workflows.SaveAsync(owner, org.Slug, null, new WorkflowInput("Left queued", null,
            [new WorkflowStep { Name = "ping", Kind = StepKinds.Http, Method = "POST", Url = receiver.BaseUrl + "/effects/ping", Text = "ping" }], null, null, false), default);
        var strandedRunId = await StoreRunNeverQueuedAsync(nodes, org, sweptId);

        var second = await nodes.StartNodeAsync();
        output.WriteLine($"Node 2 (pid {second.ProcessId}) serving {killedAt.Elapsed.TotalSeconds:F1} s after the kill.");
        var run = await WaitForEndAsync(workflows, owner, org, runId, second);
        var recovery = killedAt.Elapsed;
        output.WriteLine($"The run ended {run.Run.Status} {recovery.TotalSeconds:F1} s after the kill.");

        Assert.True(run.Run.Status == RunStatus.Succeeded, $"{run.Run.Status}: {run.Run.Error}\nNode 2 output:\n{second.Output}");
        Assert.True(recovery < RecoveryLimit, $"Recovery took {recovery.TotalSeconds:F0} s.");
        Assert.Equal(2, run.Run.Attempts);
        Assert.Equal([StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Succeeded], run.Steps.Select(s => s.Status));
        Assert.NotEqual(before.Run.Node, run.Run.Node);

        // The promise is about what the receiver sees: each effect once by its idempotency key. Delivery is at least
        // once, so the effect that was on the wire when the node died is sent again with the same key (two raw
        // deliveries, one effect applied); effects delivered before the crash, or only after it, reach it exactly once.
        var key = $"{runId:N}";
        Assert.Equal(3, receiver.DistinctKeys(key + "-"));
        Assert.Equal(1, receiver.RawCount($"{key}-0"));
        Assert.Equal(2, receiver.RawCount($"{key}-2"));
        Assert.Equal(1, receiver.RawCount($"{key}-3"));
        Assert.Equal(1, await MailsWithMessageIdAsync(nodes.MailFolder, $"{key}-1.0@workflows.agentspace"));

        // The second node's start-up sweep queued the run its predecessor stored and never queued; it ran once.
        var swept = await WaitForEndAsync(workflows, owner, org, strandedRunId, second);
        Assert.True(swept.Run.Status == RunStatus.Succeeded, $"{swept.Run.Status}: {swept.Run.Error}");
        Assert.Equal(1, receiver.RawCount($"{strandedRunId:N}-0"));
        Assert.Contains("was stored but never queued", second.FullOutput, StringComparison.Ordinal);
    }

    /// <summary>A run row written as <see cref="WorkflowService"/> writes it, two minutes old, with no job in the scheduler.</summary>
    private static async Task<Guid> StoreRunNeverQueuedAsync(WorkflowNodes nodes, OrgSummary org, Guid workflowId)
    {
        var runId = Guid.CreateVersion7();
        await nodes.Get<TenantOperation>().RunAsSystemAsync(org.Id, "test: a node stopped after storing a run", async (w, t) =>
        {
            var workflow = await w.Db.Workflows.AsNoTracking().SingleAsync(x => x.Id == workflowId, t);
            var steps = WorkflowDefinition.Parse(workflow.StepsJson);
            w.Db.WorkflowRuns.Add(new WorkflowRun
            {
                Id = runId, WorkflowId = workflowId, WorkflowName = workflow.Name, Trigger = RunTriggers.Manual, Status = RunStatus.Queued,
                StepsJson = workflow.StepsJson, OwnerUserId = workflow.OwnerUserId, OwnerEmail = workflow.OwnerEmail,
                CreatedAt = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(2),
            });
            for (var i = 0; i < steps.Count; i++)
            {
                w.Db.WorkflowRunSteps.Add(new WorkflowRunStep { RunId = runId, Index = i, Name = steps[i].Name, Kind = steps[i].Kind, Status = StepStatus.Pending });
            }
        }, default);
        return runId;
    }

    private static async Task<RunDetail> WaitForEndAsync(WorkflowService workflows, AgentSpace.Identity.Actor owner, OrgSummary org, Guid runId,
        Infrastructure.AppProcess node)
    {
        var deadline = DateTime.UtcNow + RecoveryLimit;
        while (true)
        {
            var detail = await workflows.RunAsync(owner, org.Slug, runId, default);
            if (RunStatus.IsFinal(detail.Run.Status))
            {
                return detail;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Run {runId} is still {detail.Run.Status} after {RecoveryLimit.TotalSeconds:F0} s. Node output:\n{node.Output}");
            }
            await Task.Delay(250);
        }
    }

    private static async Task<int> MailsWithMessageIdAsync(string folder, string messageId)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }
        var count = 0;
        foreach (var file in Directory.GetFiles(folder, "*.eml"))
        {
            using var message = await MimeKit.MimeMessage.LoadAsync(file);
            if (message.MessageId == messageId)
            {
                count++;
            }
        }
        return count;
    }
}
