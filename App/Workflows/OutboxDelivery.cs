using System.Globalization;
using System.Net;
using System.Text.Json;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Workflows;

/// <summary>What delivering one outbox message came to.</summary>
public sealed record Delivery(bool Sent, string Result, string? Error);

/// <summary>What an email effect holds: every address it goes to, its subject and text.</summary>
internal sealed record EmailEffect(IReadOnlyList<string> To, string Subject, string Text);

/// <summary>What an HTTP effect holds: the request as it will be sent.</summary>
internal sealed record HttpEffect(string Method, string Url, string? Body, string? ContentType);

/// <summary>
/// The outbox: a step's side effect is written with the step's state in one transaction, then claimed with
/// <c>FOR UPDATE SKIP LOCKED</c> (and a lease, so a node that dies mid-delivery frees it) and delivered at least
/// once, carrying its idempotency key (an <c>Idempotency-Key</c> header, a Message-ID), so a receiver sees each
/// effect once. A message that was sent is never sent again; one that was refused is never retried.
/// </summary>
public sealed class OutboxDelivery(
    TenantOperation operations,
    IDbContextFactory<PlatformDbContext> platform,
    IEmailSender email,
    OutboundHttp http,
    TimeProvider clock,
    ILogger<OutboxDelivery> logger)
{
    public const string EmailKind = "email";
    public const string HttpKind = "http";
    public const int MaxAttempts = 3;
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Writes the step's effect to the outbox (or finds the one already written for this run and step, after a
    /// crash) and notes it on the step, in one transaction. Returns the message's id.
    /// </summary>
    public async Task<Guid> EnqueueAsync(Guid organizationId, Guid runId, int index, WorkflowStep step,
        IReadOnlyDictionary<string, string> outputs, string? input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(step);
        var existing = await operations.RunAsSystemAsync(organizationId, WorkflowRunner.SystemReason, (w, t) =>
            w.Db.Outbox.AsNoTracking().Where(m => m.RunId == runId && m.StepIndex == index).Select(m => (Guid?)m.Id).FirstOrDefaultAsync(t), ct);
        if (existing is { } found)
        {
            return found;
        }
        string kind;
        string payload;
        if (step.Kind == StepKinds.Email)
        {
            var to = await RecipientsAsync(organizationId, step.Recipients == EmailRecipients.Admins, ct);
            if (to.Count == 0)
            {
                throw new WorkflowRunException("No member of the organization matches the step's recipients.");
            }
            kind = EmailKind;
            var subject = WorkflowDefinition.Render(step.Subject ?? "", outputs, input, envelope: false).ReplaceLineEndings(" ");
            payload = JsonSerializer.Serialize(new EmailEffect(to, subject.Length > WorkflowLimits.MaxSubject ? subject[..WorkflowLimits.MaxSubject] : subject,
                WorkflowDefinition.Keep(WorkflowDefinition.Render(step.Text, outputs, input, envelope: false))), Json);
        }
        else
        {
            kind = HttpKind;
            var url = WorkflowDefinition.RenderUrl(step.Url ?? "", outputs, input);
            var method = step.Method ?? "POST";
            var body = method is "GET" or "DELETE" || step.Text.Length == 0 ? null : WorkflowDefinition.RenderBody(step.Text, outputs, input);
            payload = JsonSerializer.Serialize(new HttpEffect(method, url, body, body is null ? null : LooksLikeJson(body) ? "application/json" : "text/plain; charset=utf-8"), Json);
        }
        return await operations.RunAsSystemAsync(organizationId, WorkflowRunner.SystemReason, async (w, t) =>
        {
            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow();
            w.Db.Outbox.Add(new OutboxMessage
            {
                Id = id,
                RunId = runId,
                StepIndex = index,
                Kind = kind,
                PayloadJson = payload,
                IdempotencyKey = string.Create(CultureInfo.InvariantCulture, $"{runId:N}-{index}"),
                Status = OutboxStatus.Pending,
                NextAttemptAt = now,
                CreatedAt = now,
            });
            var state = await w.Db.WorkflowRunSteps.FirstAsync(s => s.RunId == runId && s.Index == index, t);
            state.Output = "Queued for delivery.";
            return id;
        }, ct);
    }

    /// <summary>
    /// Delivers the message: claims it, sends it, records the outcome; retries a failed attempt up to
    /// <see cref="MaxAttempts"/> times. Waits while another node holds it. Returns what the receiver answered.
    /// </summary>
    public async Task<Delivery> DeliverAsync(Guid organizationId, Guid messageId, CancellationToken ct) =>
        await DeliverAsync(organizationId, messageId, waitForHolder: true, ct) ?? throw new InvalidOperationException("A waiting delivery ends with an outcome.");

    /// <summary>
    /// As <see cref="DeliverAsync(Guid, Guid, CancellationToken)"/>, for the recovery sweep: returns null at once while
    /// another node holds the message's lease, instead of waiting for it.
    /// </summary>
    public Task<Delivery?> TryDeliverAsync(Guid organizationId, Guid messageId, CancellationToken ct) =>
        DeliverAsync(organizationId, messageId, waitForHolder: false, ct);

    private async Task<Delivery?> DeliverAsync(Guid organizationId, Guid messageId, bool waitForHolder, CancellationToken ct)
    {
        while (true)
        {
            var claim = await ClaimAsync(organizationId, messageId, ct);
            if (claim.Done is { } done)
            {
                return done;
            }
            if (claim.Message is not { } message)
            {
                if (!waitForHolder)
                {
                    return null;
                }
                // Another node holds it: wait for it to finish or for its lease to run out.
                await Task.Delay(TimeSpan.FromMilliseconds(500), clock, ct);
                continue;
            }
            Delivery outcome;
            var retry = false;
            try
            {
                outcome = message.Kind == EmailKind
                    ? await SendEmailAsync(message, ct)
                    : await SendHttpAsync(message, claim.Hosts, ct);
                retry = outcome.Error is not null
                    && (outcome.Result.StartsWith("HTTP 5", StringComparison.Ordinal) || outcome.Result.StartsWith("HTTP 429", StringComparison.Ordinal));
            }
            catch (OutboundRequestRefusedException refused)
            {
                outcome = new Delivery(false, "Refused.", refused.Message);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException or TaskCanceledException or MailKit.ServiceNotConnectedException
                or MailKit.Net.Smtp.SmtpCommandException or MailKit.Net.Smtp.SmtpProtocolException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                ct.ThrowIfCancellationRequested();
                logger.LogWarning(ex, "Outbox message {MessageId} attempt {Attempt} failed", messageId, message.Attempts);
                outcome = new Delivery(false, "Not delivered.", WorkflowRunner.ShownError(ex));
                retry = true;
            }
            var last = !retry || message.Attempts >= MaxAttempts;
            await RecordAsync(organizationId, message, outcome, last, ct);
            if (last)
            {
                return outcome;
            }
            await Task.Delay(Backoff[Math.Min(message.Attempts - 1, Backoff.Length - 1)], clock, ct);
        }
    }

    private sealed record Claim(OutboxMessage? Message, Delivery? Done, IReadOnlyCollection<string> Hosts);

    private Task<Claim> ClaimAsync(Guid organizationId, Guid messageId, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, WorkflowRunner.SystemReason, async (w, t) =>
        {
            // Locked rows are skipped, not waited for: a node delivering it now holds the lock only for its claim.
            var row = await w.Db.Outbox.FromSql($"select * from outbox where id = {messageId} for update skip locked").Where(m => m.Id == messageId).FirstOrDefaultAsync(t);
            if (row is null)
            {
                var exists = await w.Db.Outbox.AsNoTracking().AnyAsync(m => m.Id == messageId, t);
                return exists ? new Claim(null, null, []) : new Claim(null, new Delivery(false, "Not delivered.", "The message is gone."), []);
            }
            if (row.Status == OutboxStatus.Sent)
            {
                return new Claim(null, new Delivery(true, row.Result ?? "Delivered.", null), []);
            }
            if (row.Status == OutboxStatus.Failed)
            {
                return new Claim(null, new Delivery(false, row.Result ?? "Not delivered.", row.LastError ?? "Not delivered."), []);
            }
            var now = clock.GetUtcNow();
            if (row.NextAttemptAt > now && row.Attempts > 0)
            {
                return new Claim(null, null, []);
            }
            if (row.Attempts >= MaxAttempts)
            {
                // Its last attempt was cut short (the node delivering it stopped): no further attempt, and said so.
                row.Status = OutboxStatus.Failed;
                row.LastError = string.Create(CultureInfo.InvariantCulture,
                    $"Given up after {MaxAttempts} attempts; the last one was interrupted and may have reached the receiver.");
                row.Result ??= "Not delivered.";
                w.Audit(WorkflowAuditActions.EffectDelivered, row.RunId.ToString(), new Dictionary<string, string?>
                {
                    ["kind"] = row.Kind,
                    ["key"] = row.IdempotencyKey,
                    ["attempt"] = row.Attempts.ToString(CultureInfo.InvariantCulture),
                    ["error"] = row.LastError,
                }, Audit.AuditOutcome.Failure);
                return new Claim(null, new Delivery(false, row.Result, row.LastError), []);
            }
            row.Attempts++;
            row.NextAttemptAt = now + Lease;
            var hosts = row.Kind == HttpKind ? await w.Db.WorkflowHttpHosts.AsNoTracking().Select(h => h.Host).ToListAsync(t) : [];
            return new Claim(row, null, hosts);
        }, ct);

    /// <summary>
    /// Gives a pending message up without sending it (its run was cancelled before it went out), unless a node is
    /// delivering it now. Returns whether it was given up.
    /// </summary>
    public Task<bool> AbandonAsync(Guid organizationId, Guid messageId, string reason, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, WorkflowRunner.SystemReason, async (w, t) =>
        {
            var row = await w.Db.Outbox.FromSql($"select * from outbox where id = {messageId} for update skip locked").Where(m => m.Id == messageId).FirstOrDefaultAsync(t);
            if (row is null || row.Status != OutboxStatus.Pending || row.Attempts > 0 && row.NextAttemptAt > clock.GetUtcNow())
            {
                return false;
            }
            row.Status = OutboxStatus.Failed;
            row.LastError = reason;
            row.Result ??= "Not delivered.";
            w.Audit(WorkflowAuditActions.EffectDelivered, row.RunId.ToString(), new Dictionary<string, string?>
            {
                ["kind"] = row.Kind,
                ["key"] = row.IdempotencyKey,
                ["attempt"] = row.Attempts.ToString(CultureInfo.InvariantCulture),
                ["error"] = reason,
            }, Audit.AuditOutcome.Failure);
            return true;
        }, ct);

    private async Task RecordAsync(Guid organizationId, OutboxMessage message, Delivery outcome, bool last, CancellationToken ct)
    {
        // Recorded even when the node is going down: what was sent must be known before anything could send it again.
        _ = ct;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await operations.RunAsSystemAsync(organizationId, WorkflowRunner.SystemReason, async (w, t) =>
        {
            var row = await w.Db.Outbox.FirstAsync(m => m.Id == message.Id, t);
            row.Result = WorkflowDefinition.Keep(outcome.Result);
            row.LastError = outcome.Error;
            if (outcome.Sent || outcome.Error is not null && last && outcome.Result.StartsWith("HTTP ", StringComparison.Ordinal))
            {
                // The receiver answered: the effect reached it, whatever it said; it is never sent again.
                row.Status = OutboxStatus.Sent;
                row.SentAt = clock.GetUtcNow();
            }
            else if (last)
            {
                row.Status = OutboxStatus.Failed;
            }
            else
            {
                row.Status = OutboxStatus.Pending;
                row.NextAttemptAt = clock.GetUtcNow();
            }
            if (row.Status != OutboxStatus.Pending)
            {
                w.Audit(WorkflowAuditActions.EffectDelivered, message.RunId.ToString(), new Dictionary<string, string?>
                {
                    ["kind"] = message.Kind,
                    ["key"] = message.IdempotencyKey,
                    ["attempt"] = row.Attempts.ToString(CultureInfo.InvariantCulture),
                    ["result"] = outcome.Result.Length > 200 ? outcome.Result[..200] : outcome.Result,
                    ["error"] = outcome.Error,
                }, row.Status == OutboxStatus.Sent && outcome.Sent ? Audit.AuditOutcome.Success : Audit.AuditOutcome.Failure);
            }
        }, timeout.Token);
    }

    private async Task<Delivery> SendEmailAsync(OutboxMessage message, CancellationToken ct)
    {
        var effect = JsonSerializer.Deserialize<EmailEffect>(message.PayloadJson, Json) ?? throw new JsonException("Empty email effect.");
        var html = "<pre style=\"white-space: pre-wrap; font-family: inherit\">" + WebUtility.HtmlEncode(effect.Text) + "</pre>";
        for (var i = 0; i < effect.To.Count; i++)
        {
            // One Message-ID per recipient and message: a redelivery after a crash carries the same one.
            var messageId = string.Create(CultureInfo.InvariantCulture, $"{message.IdempotencyKey}.{i}@workflows.agentspace");
            await email.SendAsync(new EmailMessage(effect.To[i], effect.Subject, effect.Text, html, messageId), ct);
        }
        return new Delivery(true, string.Create(CultureInfo.InvariantCulture, $"Emailed {effect.To.Count} {(effect.To.Count == 1 ? "member" : "members")}."), null);
    }

    private async Task<Delivery> SendHttpAsync(OutboxMessage message, IReadOnlyCollection<string> hosts, CancellationToken ct)
    {
        var effect = JsonSerializer.Deserialize<HttpEffect>(message.PayloadJson, Json) ?? throw new JsonException("Empty HTTP effect.");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Idempotency-Key"] = message.IdempotencyKey };
        if (effect.ContentType is { } contentType)
        {
            headers["Content-Type"] = contentType;
        }
        var response = await http.SendAsync(new OutboundRequest(effect.Method, new Uri(effect.Url), headers, effect.Body), hosts, ct);
        var result = string.Create(CultureInfo.InvariantCulture, $"HTTP {response.StatusCode}") + (response.Body.Length > 0 ? "\n" + response.Body : "");
        return response.StatusCode is >= 200 and < 400
            ? new Delivery(true, result, null)
            : new Delivery(false, result, string.Create(CultureInfo.InvariantCulture, $"The server answered HTTP {response.StatusCode}."));
    }

    private async Task<IReadOnlyList<string>> RecipientsAsync(Guid organizationId, bool adminsOnly, CancellationToken ct)
    {
        await using var db = await platform.CreateDbContextAsync(ct);
        // Roles are stored by name: listed, not compared.
        OrgRole[] roles = adminsOnly ? [OrgRole.Admin, OrgRole.Owner] : [OrgRole.Viewer, OrgRole.Member, OrgRole.Admin, OrgRole.Owner];
        return await db.Memberships.AsNoTracking()
            .Where(m => m.OrganizationId == organizationId && roles.Contains(m.Role))
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => u.Email!)
            .OrderBy(e => e)
            .Take(500)
            .ToListAsync(ct);
    }

    private static bool LooksLikeJson(string body)
    {
        var trimmed = body.TrimStart();
        if (!(trimmed.StartsWith('{') || trimmed.StartsWith('[')))
        {
            return false;
        }
        try
        {
            using var _ = JsonDocument.Parse(body);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
