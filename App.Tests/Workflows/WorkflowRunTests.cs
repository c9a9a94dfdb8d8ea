using System.Text;
using AgentSpace.Audit;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Workflows;

/// <summary>
/// Runs through the clustered scheduler on the real database: each step's output reaching later steps, the
/// condition's stop, side effects through the outbox delivered once with their idempotency keys, a crashed run taken
/// up again without repeating a step or an effect, signed webhooks, and who may do what.
/// </summary>
public sealed class WorkflowRunTests(WorkflowFixture data) : IClassFixture<WorkflowFixture>
{
    private async Task<(TestOrg Org, Guid Agent, string Key)> OrgWithAgentAsync(string answer)
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var key = Guid.NewGuid().ToString("N")[..10];
        var agent = await data.CreateAgentAsync(org.Org, $"You summarise the night. key: {key}");
        data.Server.RespondWith(r => r.SystemText.Contains(key, StringComparison.Ordinal)
            ? ScriptedReply.Say(answer) with { PromptTokens = 120, CompletionTokens = 30 }
            : null);
        await data.AllowSinkAsync(org);
        return (org, agent.Id, key);
    }

    private IReadOnlyList<WorkflowStep> FourSteps(Guid agent, string stopOn) =>
    [
        new WorkflowStep { Name = "summary", Kind = StepKinds.Agent, AgentId = agent, Text = "Summarise the night's alerts." },
        new WorkflowStep { Name = "check", Kind = StepKinds.Condition, Text = "{{summary}}", Pattern = stopOn, OnMatch = ConditionActions.Stop },
        new WorkflowStep { Name = "notify", Kind = StepKinds.Email, Recipients = EmailRecipients.Members, Subject = "Night report", Text = "Tonight: {{summary}}" },
        new WorkflowStep { Name = "post", Kind = StepKinds.Http, Method = "POST", Url = data.Sink.BaseUrl + "/reports/{{check}}", Text = "{\"summary\": \"{{summary}}\"}" },
    ];

    [Fact]
    public async Task RunNow_EveryStepRuns_OutputsFlowOn_EachEffectIsDeliveredOnceWithItsKey()
    {
        var (org, agent, _) = await OrgWithAgentAsync("All green: no alerts overnight.");
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null,
            new WorkflowInput("Night report", null, FourSteps(agent, "outage"), null, null, false), default);
        var sinkBefore = data.Sink.Received.Count;

        var runId = await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default);
        var run = await data.WaitForRunAsync(org, runId);

        Assert.True(run.Run.Status == RunStatus.Succeeded, $"{run.Run.Status}: {run.Run.Error}");
        Assert.Equal([StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Succeeded], run.Steps.Select(s => s.Status));
        Assert.Equal("All green: no alerts overnight.", run.Steps[0].Output);
        Assert.StartsWith("not matched", run.Steps[1].Output, StringComparison.Ordinal);
        Assert.Equal("Emailed 2 members.", run.Steps[2].Output);
        Assert.StartsWith("HTTP 200", run.Steps[3].Output, StringComparison.Ordinal);
        // The agent step's tokens and cost are the run's.
        Assert.Equal(150, run.Run.InputTokens + run.Run.OutputTokens);
        Assert.True(run.Run.CostUsd > 0);
        Assert.Equal(org.Member.UserId, run.Run.OwnerUserId);

        // The sink got the request once, with the run's key and the earlier outputs filled in (percent-encoded in the path).
        var request = Assert.Single(data.Sink.Received.Skip(sinkBefore));
        Assert.Equal($"{runId:N}-3", request.IdempotencyKey);
        Assert.Equal("/reports/not matched; the run goes on", Uri.UnescapeDataString(request.Path));
        Assert.Equal("{\"summary\": \"All green: no alerts overnight.\"}", request.Body);
        Assert.Equal("application/json", request.ContentType);
        // One email per member, each with the effect's Message-ID.
        var mails = await MailsWithKeyAsync($"{runId:N}-2");
        Assert.Equal(2, mails.Count);
        Assert.Contains(mails, m => m.To.Mailboxes.Single().Address == org.Member.Email && (m.TextBody ?? "").Contains("Tonight: All green", StringComparison.Ordinal));

        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.RunQueued && e.Target == runId.ToString());
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.RunStarted && e.Target == runId.ToString());
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.RunEnded && e.Target == runId.ToString() && e.Outcome == AuditOutcome.Success);
        Assert.Equal(2, audit.Count(e => e.Action == WorkflowAuditActions.EffectDelivered && e.Target == runId.ToString()));
    }

    [Fact]
    public async Task Condition_MatchStops_LaterStepsSkipped_NoEffectWritten()
    {
        var (org, agent, _) = await OrgWithAgentAsync("Outage on line 3 since 02:00.");
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null,
            new WorkflowInput("Night report", null, FourSteps(agent, "OUTAGE"), null, null, false), default);
        var sinkBefore = data.Sink.Received.Count;

        var runId = await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default);
        var run = await data.WaitForRunAsync(org, runId);

        Assert.Equal(RunStatus.Stopped, run.Run.Status);
        Assert.Equal([StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Skipped, StepStatus.Skipped], run.Steps.Select(s => s.Status));
        Assert.Equal(0, await data.OutboxCountAsync(org, runId));
        Assert.Equal(sinkBefore, data.Sink.Received.Count);
    }

    [Fact]
    public async Task CrashedRun_TakenUpAgain_DoesNotRepeatADoneStepOrAnEffectAlreadyWritten()
    {
        var (org, agent, key) = await OrgWithAgentAsync("All green.");
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null,
            new WorkflowInput("Night report", null, FourSteps(agent, "outage"), null, null, false), default);
        // A node stored the run, ran the agent step, wrote the HTTP effect with its step and died before delivering it.
        var runId = Guid.CreateVersion7();
        await data.InTenantAsync(org.Org, async db =>
        {
            var workflow = await db.Workflows.SingleAsync(w => w.Id == id);
            db.WorkflowRuns.Add(new WorkflowRun
            {
                Id = runId, WorkflowId = id, WorkflowName = workflow.Name, Trigger = RunTriggers.Manual, Status = RunStatus.Running, Attempts = 1,
                StepsJson = workflow.StepsJson, OwnerUserId = workflow.OwnerUserId, OwnerEmail = workflow.OwnerEmail, CreatedAt = DateTimeOffset.UtcNow,
            });
            string[] statuses = [StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Running];
            string?[] outputs = ["All green.", "not matched; the run goes on", "Emailed 2 members.", "Queued for delivery."];
            string[] kinds = [StepKinds.Agent, StepKinds.Condition, StepKinds.Email, StepKinds.Http];
            string[] names = ["summary", "check", "notify", "post"];
            for (var i = 0; i < 4; i++)
            {
                db.WorkflowRunSteps.Add(new WorkflowRunStep { RunId = runId, Index = i, Name = names[i], Kind = kinds[i], Status = statuses[i], Output = outputs[i] });
            }
            db.Outbox.Add(new OutboxMessage
            {
                Id = Guid.CreateVersion7(), RunId = runId, StepIndex = 3, Kind = OutboxDelivery.HttpKind, IdempotencyKey = $"{runId:N}-3", Status = OutboxStatus.Pending,
                PayloadJson = $"{{\"method\":\"POST\",\"url\":\"{data.Sink.BaseUrl}/reports/resumed\",\"body\":\"written before the crash\",\"contentType\":\"text/plain; charset=utf-8\"}}",
                NextAttemptAt = DateTimeOffset.UtcNow, CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        });
        var callsBefore = data.Server.ChatRequests.Count(r => r.SystemText.Contains(key, StringComparison.Ordinal));
        var sinkBefore = data.Sink.Received.Count;

        // The scheduler recovers the job: here, it is queued again, as recovery on another node does.
        await data.Get<WorkflowScheduler>().QueueRunAsync(org.Org.Id, runId, default);
        var run = await data.WaitForRunAsync(org, runId);

        Assert.Equal(RunStatus.Succeeded, run.Run.Status);
        Assert.Equal(2, run.Run.Attempts);
        Assert.Equal(callsBefore, data.Server.ChatRequests.Count(r => r.SystemText.Contains(key, StringComparison.Ordinal)));
        var delivered = Assert.Single(data.Sink.Received.Skip(sinkBefore));
        Assert.Equal("/reports/resumed", delivered.Path);
        Assert.Equal("written before the crash", delivered.Body);
        Assert.Equal(1, await data.OutboxCountAsync(org, runId));
        Assert.Empty(await MailsWithKeyAsync($"{runId:N}-2"));
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Single(audit, e => e.Action == WorkflowAuditActions.RunResumed && e.Target == runId.ToString());
    }

    [Fact]
    public async Task HttpStep_HostNotAllowListed_FailsTheRunWithTheReason_NothingSent()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, new WorkflowInput("Ping", null,
            [new WorkflowStep { Name = "ping", Kind = StepKinds.Http, Method = "GET", Url = data.Sink.BaseUrl + "/ping" }], null, null, false), default);
        var sinkBefore = data.Sink.Received.Count;

        var run = await data.WaitForRunAsync(org, await data.Workflows.RunNowAsync(org.Member, org.Org.Slug, id, default));

        Assert.Equal(RunStatus.Failed, run.Run.Status);
        Assert.Contains("127.0.0.1", run.Steps[0].Error, StringComparison.Ordinal);
        Assert.Contains("Step 1 (ping) failed", run.Run.Error, StringComparison.Ordinal);
        Assert.Equal(sinkBefore, data.Sink.Received.Count);
    }

    [Fact]
    public async Task Webhook_UnsignedStaleForgedAndReplayedCallsAreRefusedBeforeAnyStep_ASignedOneRunsOnce()
    {
        var (org, agent, _) = await OrgWithAgentAsync("Deploy noted.");
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, new WorkflowInput("On deploy", null,
            [new WorkflowStep { Name = "note", Kind = StepKinds.Agent, AgentId = agent, Text = "A deploy happened: {{input}}" }], null, null, false), default);
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Workflows.EnableWebhookAsync(org.Member, org.Org.Slug, id, "https://agentspace.test", default));
        var hook = await data.Workflows.EnableWebhookAsync(org.Owner, org.Org.Slug, id, "https://agentspace.test", default);
        var path = hook.Url.Split('/')[^1];
        var secret = WebhookSignature.SecretBytes(hook.Secret);
        var body = Encoding.UTF8.GetBytes("{\"service\":\"billing\",\"version\":\"4.2\"}");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(secret, now, body);
        Task<WebhookAnswer> CallAsync(string? ts, string? sig, string? key, byte[]? payload = null) =>
            data.Workflows.ReceiveWebhookAsync(org.Org.Slug, path, ts, sig, key, payload ?? body, default);

        Assert.Equal(401, (await CallAsync(null, null, "d-1")).StatusCode);
        Assert.Equal(401, (await CallAsync((now - 360).ToString(System.Globalization.CultureInfo.InvariantCulture),
            WebhookSignature.Sign(secret, now - 360, body), "d-1")).StatusCode);
        Assert.Equal(401, (await CallAsync(now.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, "d-1", Encoding.UTF8.GetBytes("{\"service\":\"billing\",\"version\":\"6.6\"}"))).StatusCode);
        Assert.Equal(401, (await CallAsync(now.ToString(System.Globalization.CultureInfo.InvariantCulture),
            WebhookSignature.Sign(Encoding.UTF8.GetBytes("not the secret"), now, body), "d-1")).StatusCode);
        Assert.Equal(404, (await data.Workflows.ReceiveWebhookAsync(org.Org.Slug, "0000", now.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, "d-1", body, default)).StatusCode);
        Assert.Empty(await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default));

        var accepted = await CallAsync(now.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, "d-1");
        Assert.Equal(202, accepted.StatusCode);
        var replay = await CallAsync(now.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, "d-1");
        Assert.Equal(409, replay.StatusCode);
        // The signature names the delivery too: without the key it is still the one already taken.
        Assert.Equal(409, (await CallAsync(now.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, null)).StatusCode);
        // Without an idempotency key, a new signature is a new delivery, once.
        var later = (now + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(202, (await CallAsync(later, WebhookSignature.Sign(secret, now + 1, body), null)).StatusCode);
        Assert.Equal(409, (await CallAsync(later, WebhookSignature.Sign(secret, now + 1, body), null)).StatusCode);

        var run = await data.WaitForRunAsync(org, accepted.RunId!.Value);
        Assert.Equal(RunStatus.Succeeded, run.Run.Status);
        Assert.Equal(RunTriggers.Webhook, run.Run.Trigger);
        Assert.Equal(org.Member.UserId, run.Run.OwnerUserId);
        // The body reached the agent inside the untrusted-content envelope.
        var prompt = data.Server.ChatRequests.Last(r => r.PromptText.Contains("\"service\":\"billing\"", StringComparison.Ordinal)).PromptText;
        Assert.Contains("webhook input", prompt, StringComparison.Ordinal);
        Assert.Equal(2, (await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default)).Count);
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Equal(7, audit.Count(e => e.Action == WorkflowAuditActions.WebhookRefused && e.Outcome == AuditOutcome.Denied));
    }

    [Fact]
    public async Task ScheduleFiring_TwiceForOneFireTime_MakesOneRun()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, new WorkflowInput("Nightly", null,
            [new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "ok", Pattern = "ok", OnMatch = ConditionActions.Continue }],
            "0 2 * * *", "Europe/Lisbon", true), default);
        Assert.True(await data.Get<WorkflowScheduler>().ScheduleStoredAsync(org.Org.Id, id, default));
        var at = new DateTimeOffset(2026, 11, 2, 2, 0, 0, TimeSpan.Zero);

        await Task.WhenAll(
            data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at, at.AddMilliseconds(40), default),
            data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at, at.AddMilliseconds(45), default));

        var runs = await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default);
        var run = Assert.Single(runs);
        Assert.Equal(RunTriggers.Schedule, run.Trigger);
        Assert.Equal(RunStatus.Succeeded, (await data.WaitForRunAsync(org, run.Id)).Run.Status);

        // Switching the schedule off takes the job out of the scheduler.
        var detail = await data.Workflows.GetAsync(org.Member, org.Org.Slug, id, default);
        await data.Workflows.SaveAsync(org.Member, org.Org.Slug, id, new WorkflowInput("Nightly", null, detail.Steps, "0 2 * * *", "Europe/Lisbon", false, detail.Workflow.Version), default);
        Assert.False(await data.Get<WorkflowScheduler>().ScheduleStoredAsync(org.Org.Id, id, default));
    }

    [Fact]
    public async Task Roles_ViewerReadsOnly_MemberBuildsAndRuns_AdminsManageWebhooksAndHosts()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var viewer = await data.AddMemberAsync(org.Org, OrgRole.Viewer);
        var steps = new[] { new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "ok", Pattern = "ok", OnMatch = ConditionActions.Continue } };
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Workflows.SaveAsync(viewer, org.Org.Slug, null, new WorkflowInput("Mine", null, steps, null, null, false), default));
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, new WorkflowInput("Ours", null, steps, null, null, false), default);
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Workflows.RunNowAsync(viewer, org.Org.Slug, id, default));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Workflows.AllowHostAsync(org.Member, org.Org.Slug, "api.example.com", default));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.Workflows.DisableWebhookAsync(org.Member, org.Org.Slug, id, default));
        Assert.Single((await data.Workflows.HomeAsync(viewer, org.Org.Slug, default)).Workflows);

        // Another organization's workflow is not found from here.
        var other = await data.OrgWithMemberAsync(OrgRole.Member);
        await Assert.ThrowsAsync<WorkflowNotFoundException>(() => data.Workflows.RunNowAsync(other.Member, other.Org.Slug, id, default));
        await Assert.ThrowsAsync<WorkflowNotFoundException>(() => data.Workflows.GetAsync(other.Member, other.Org.Slug, id, default));
    }

    private async Task<List<MimeKit.MimeMessage>> MailsWithKeyAsync(string key)
    {
        var found = new List<MimeKit.MimeMessage>();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            found.Clear();
            if (Directory.Exists(data.MailFolder))
            {
                foreach (var file in Directory.GetFiles(data.MailFolder, "*.eml"))
                {
                    var message = await MimeKit.MimeMessage.LoadAsync(file);
                    if (message.MessageId?.StartsWith(key + ".", StringComparison.Ordinal) == true)
                    {
                        found.Add(message);
                    }
                }
            }
            if (found.Count > 0)
            {
                break;
            }
            await Task.Delay(50);
        }
        return found;
    }
}
