using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentSpace.Data;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Workflows;

/// <summary>
/// What an attacker tries next: a captured webhook delivery sent again under a new key or a rewritten signature
/// header, a template that names a large output thousands of times, a value that breaks out of a JSON string, edits
/// that would run in someone else's name, automation outliving its owner's access, and a schedule that fires after
/// it was switched off.
/// </summary>
public sealed class WorkflowHardeningTests(WorkflowFixture data) : IClassFixture<WorkflowFixture>
{
    private static WorkflowInput Simple(string name, string? cron = null) => new(name, null,
        [new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "ok", Pattern = "ok", OnMatch = ConditionActions.Continue }],
        cron, null, cron is not null);

    private async Task SetMembershipAsync(TestOrg org, Guid userId, OrgRole? role, bool suspend = false)
    {
        await using var scope = data.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        var membership = await db.Memberships.FirstAsync(m => m.OrganizationId == org.Org.Id && m.UserId == userId);
        if (role is { } r)
        {
            membership.Role = r;
        }
        else
        {
            db.Memberships.Remove(membership);
        }
        if (suspend)
        {
            (await db.Users.FirstAsync(u => u.Id == userId)).SuspendedAt = DateTimeOffset.UtcNow;
        }
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task Webhook_ACapturedDeliverySentAgain_UnderANewKeyOrARewrittenSignatureHeader_IsAReplay()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("On push"), default);
        var hook = await data.Workflows.EnableWebhookAsync(org.Owner, org.Org.Slug, id, "https://agentspace.test", default);
        var path = hook.Url.Split('/')[^1];
        var secret = WebhookSignature.SecretBytes(hook.Secret);
        var body = Encoding.UTF8.GetBytes("{\"ref\":\"main\"}");
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(secret, ts, body);
        Task<WebhookAnswer> SendAsync(long at, string sig, string? key) =>
            data.Workflows.ReceiveWebhookAsync(org.Org.Slug, path, at.ToString(CultureInfo.InvariantCulture), sig, key, body, default);

        Assert.Equal(202, (await SendAsync(ts, signature, "delivery-1")).StatusCode);

        Assert.Equal(409, (await SendAsync(ts, signature, "another-key")).StatusCode);
        Assert.Equal(409, (await SendAsync(ts, signature, null)).StatusCode);
        Assert.Equal(409, (await SendAsync(ts, "v1=" + new string('a', 64) + "," + signature, null)).StatusCode);
        Assert.Equal(409, (await SendAsync(ts, "v1=" + signature[3..].ToUpperInvariant(), "yet-another")).StatusCode);
        // The sender's own retry, signed afresh, keeps its key: still the same delivery.
        Assert.Equal(409, (await SendAsync(ts + 1, WebhookSignature.Sign(secret, ts + 1, body), "delivery-1")).StatusCode);
        // A new delivery is accepted.
        Assert.Equal(202, (await SendAsync(ts + 2, WebhookSignature.Sign(secret, ts + 2, body), "delivery-2")).StatusCode);

        Assert.Equal(2, (await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default)).Count);
    }

    [Fact]
    public void Render_ATextNamingALargeOutputThousandsOfTimes_StopsWithAClearErrorBeforeItIsBuilt()
    {
        var outputs = new Dictionary<string, string> { ["a"] = new('x', 64 * 1024) };
        var text = string.Concat(Enumerable.Repeat("{{a}}", 4000));

        var error = Assert.Throws<WorkflowRunException>(() => WorkflowDefinition.Render(text, outputs, null, envelope: false));

        Assert.Equal("Filled in, this step's text would be longer than 200,000 characters.", error.Message);
        // One use of a large output gets at most the output limit.
        Assert.Equal(WorkflowLimits.MaxOutput, WorkflowDefinition.Render("{{a}}", outputs, null, envelope: false).Length);
        Assert.Throws<WorkflowRunException>(() => WorkflowDefinition.Render(string.Concat(Enumerable.Repeat("{{input}}", 4000)), outputs, new string('y', 200_000), envelope: true));
    }

    [Fact]
    public void RenderBody_JsonBody_AValueCannotLeaveItsString()
    {
        var outputs = new Dictionary<string, string> { ["summary"] = "fine\", \"admin\": true, \"note\": \"\\\n" };

        var body = WorkflowDefinition.RenderBody("{\"summary\": \"{{summary}}\"}", outputs, null);

        using var parsed = JsonDocument.Parse(body);
        var property = Assert.Single(parsed.RootElement.EnumerateObject());
        Assert.Equal("summary", property.Name);
        Assert.Equal(outputs["summary"], property.Value.GetString());
        // A body that is not JSON is filled in as it is.
        Assert.Equal("say fine\", \"admin\": true, \"note\": \"\\\n", WorkflowDefinition.RenderBody("say {{summary}}", outputs, null));
    }

    [Fact]
    public async Task Save_BySomeoneElse_MakesThemTheOwner_AndTheAuditNamesWhoOwnedItBefore()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Owner, org.Org.Slug, null, Simple("Owner's"), default);
        var detail = await data.Workflows.GetAsync(org.Member, org.Org.Slug, id, default);
        Assert.Equal(org.Owner.UserId, detail.Workflow.OwnerUserId);

        await data.Workflows.SaveAsync(org.Member, org.Org.Slug, id, Simple("Member's now") with { Version = detail.Workflow.Version }, default);

        var saved = await data.Workflows.GetAsync(org.Member, org.Org.Slug, id, default);
        Assert.Equal(org.Member.UserId, saved.Workflow.OwnerUserId);
        var run = await data.WaitForRunAsync(org, await data.Workflows.RunNowAsync(org.Owner, org.Org.Slug, id, default));
        Assert.Equal(org.Member.UserId, run.Run.OwnerUserId);
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        var entry = audit.First(e => e.Action == WorkflowAuditActions.Saved);
        Assert.Contains($"\"previous_owner\":\"{org.Owner.Email}\"", entry.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OwnerRemovedDemotedOrSuspended_NoRunIsMadeInTheirName_UntilAMemberSavesIt()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Hourly", "0 * * * *"), default);
        var hook = await data.Workflows.EnableWebhookAsync(org.Owner, org.Org.Slug, id, "https://agentspace.test", default);
        var path = hook.Url.Split('/')[^1];
        var body = Encoding.UTF8.GetBytes("{}");

        await SetMembershipAsync(org, org.Member.UserId, OrgRole.Viewer);
        var demoted = await Assert.ThrowsAsync<WorkflowBusyException>(() => data.Workflows.RunNowAsync(org.Owner, org.Org.Slug, id, default));
        Assert.Equal("The workflow's owner is now a Viewer; a member must save it again to own it.", demoted.Message);
        Assert.Equal(403, demoted.StatusCode);

        await SetMembershipAsync(org, org.Member.UserId, null);
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var call = await data.Workflows.ReceiveWebhookAsync(org.Org.Slug, path, ts.ToString(CultureInfo.InvariantCulture),
            WebhookSignature.Sign(WebhookSignature.SecretBytes(hook.Secret), ts, body), "d-1", body, default);
        Assert.Equal(403, call.StatusCode);
        Assert.StartsWith("The workflow's owner is no longer a member", call.Message, StringComparison.Ordinal);
        var at = new DateTimeOffset(2026, 12, 8, 4, 0, 0, TimeSpan.Zero);
        await data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at, at, default);
        var skipped = Assert.Single(await data.Workflows.RunsAsync(org.Owner, org.Org.Slug, id, default));
        Assert.Equal(RunStatus.Skipped, skipped.Status);
        Assert.StartsWith("Not run. The workflow's owner is no longer a member", skipped.Error, StringComparison.Ordinal);
        var audit = await data.AuditLogAsync(org.Owner, org.Org.Slug);
        Assert.Contains(audit, e => e.Action == WorkflowAuditActions.WebhookRefused && e.Details.Contains("owner_inactive", StringComparison.Ordinal));

        // The Owner saves it and owns it; then it runs.
        var detail = await data.Workflows.GetAsync(org.Owner, org.Org.Slug, id, default);
        await data.Workflows.SaveAsync(org.Owner, org.Org.Slug, id, Simple("Hourly", "0 * * * *") with { Version = detail.Workflow.Version }, default);
        Assert.Equal(RunStatus.Succeeded, (await data.WaitForRunAsync(org with { Member = org.Owner }, await data.Workflows.RunNowAsync(org.Owner, org.Org.Slug, id, default))).Run.Status);

        // A suspended owner's automation stops too.
        await SetMembershipAsync(org, org.Owner.UserId, OrgRole.Owner, suspend: true);
        var suspended = await Assert.ThrowsAsync<WorkflowBusyException>(() => data.Workflows.RunNowAsync(org.Owner, org.Org.Slug, id, default));
        Assert.Equal("The workflow's owner is suspended; a member must save it again to own it.", suspended.Message);
    }

    [Fact]
    public async Task ScheduleFiring_AfterTheScheduleWasSwitchedOff_MakesNoRunAndTakesTheTriggerOut()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.Workflows.SaveAsync(org.Member, org.Org.Slug, null, Simple("Nightly", "0 2 * * *"), default);
        var scheduler = data.Get<WorkflowScheduler>();
        Assert.True(await scheduler.ScheduleStoredAsync(org.Org.Id, id, default));
        // Switched off in the database while its trigger stayed (a save whose scheduler update was lost).
        await data.InTenantAsync(org.Org, async db =>
            await db.Workflows.Where(w => w.Id == id).ExecuteUpdateAsync(u => u.SetProperty(w => w.ScheduleEnabled, false)));
        var at = new DateTimeOffset(2026, 12, 9, 2, 0, 0, TimeSpan.Zero);

        await data.Workflows.QueueScheduledRunAsync(org.Org.Id, id, at, at, default);

        Assert.Empty(await data.Workflows.RunsAsync(org.Member, org.Org.Slug, id, default));
        Assert.False(await scheduler.ScheduleStoredAsync(org.Org.Id, id, default));
    }
}
