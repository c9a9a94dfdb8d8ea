using System.Globalization;
using System.Text;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace AgentSpace.Audit;

public sealed record AuditFilter(string? Actor = null, string? Action = null, DateOnly? From = null, DateOnly? To = null);

public sealed record AuditLogView(OrgContext Org, IReadOnlyList<string> Actions);

public sealed record AuditPage(IReadOnlyList<AuditEvent> Items, int Total, int Page, int PageSize);

/// <summary>Reading, exporting and verifying an organization's audit log: Admins and Owners only.</summary>
public sealed class AuditService(TenantOperation operations, AuditLog audit)
{
    public const int MaxPageSize = 200;

    public Task<AuditPage> SearchAsync(Actor actor, string slug, AuditFilter filter, int page, int pageSize, CancellationToken ct)
    {
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        page = Math.Max(page, 1);
        return operations.RunAsync(actor, slug, OrgRole.Admin, "audit.read", async (work, token) =>
        {
            var query = Apply(work.Db.AuditEvents.AsNoTracking(), filter);
            var total = await query.CountAsync(token);
            var items = await query.OrderByDescending(e => e.Seq).Skip((page - 1) * pageSize).Take(pageSize).ToListAsync(token);
            return new AuditPage(items, total, page, pageSize);
        }, ct);
    }

    /// <summary>
    /// What the audit page needs on load, with one access check: the organization for any member, and the
    /// actions to filter by for Admins. A Member or Viewer gets the page's explanation, not a refused
    /// (and audited) request, and reads nothing of the log.
    /// </summary>
    public Task<AuditLogView> OpenAsync(Actor actor, string slug, CancellationToken ct) =>
        operations.RunAsync(actor, slug, OrgRole.Viewer, "audit.open", async (work, token) => new AuditLogView(work.Org,
            work.Org.Can(OrgRole.Admin)
                ? await work.Db.AuditEvents.AsNoTracking().Select(e => e.Action).Distinct().OrderBy(a => a).ToListAsync(token)
                : []), ct);

    /// <summary>Returns one event by sequence number; a non-member asking gets not-found.</summary>
    public Task<AuditEvent?> GetAsync(Actor actor, string slug, long seq, CancellationToken ct) =>
        operations.RunAsync(actor, slug, OrgRole.Admin, "audit.read", (work, token) =>
            work.Db.AuditEvents.AsNoTracking().FirstOrDefaultAsync(e => e.Seq == seq, token), ct);

    /// <summary>CSV of every matching event (oldest first); the export itself is audited.</summary>
    public Task<string> ExportCsvAsync(Actor actor, string slug, AuditFilter filter, CancellationToken ct) =>
        operations.RunAsync(actor, slug, OrgRole.Admin, "audit.export", async (work, token) =>
        {
            var rows = await Apply(work.Db.AuditEvents.AsNoTracking(), filter).OrderBy(e => e.Seq).ToListAsync(token);
            var sb = new StringBuilder("seq,occurred_at_utc,actor_email,actor_id,action,target,outcome,ip,details,hash\n");
            foreach (var e in rows)
            {
                sb.AppendJoin(',',
                    e.Seq.ToString(CultureInfo.InvariantCulture),
                    e.OccurredAt.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
                    Csv(e.ActorEmail), Csv(e.ActorId?.ToString()), Csv(e.Action), Csv(e.Target), Csv(e.Outcome), Csv(e.Ip), Csv(e.Details),
                    Convert.ToHexStringLower(e.Hash)).Append('\n');
            }
            work.Audit(AuditLogActions.Exported, "audit_events", new Dictionary<string, string?> { ["rows"] = rows.Count.ToString(CultureInfo.InvariantCulture) });
            return sb.ToString();
        }, ct);

    /// <summary>Walks the chain and records the result in it, in one transaction (the new row links to the verified head).</summary>
    public Task<AuditVerification> VerifyAsync(Actor actor, string slug, CancellationToken ct) =>
        operations.RunAsync(actor, slug, OrgRole.Admin, "audit.verify", async (work, token) =>
        {
            var result = await audit.VerifyAsync(work.Db, token);
            work.Audit(AuditLogActions.Verified, "audit_events", new Dictionary<string, string?> { ["result"] = result.Message },
                result.Ok ? AuditOutcome.Success : AuditOutcome.Failure);
            return result;
        }, ct);

    private static IQueryable<AuditEvent> Apply(IQueryable<AuditEvent> query, AuditFilter filter)
    {
        if (!string.IsNullOrWhiteSpace(filter.Actor))
        {
            var actor = filter.Actor.Trim().ToLowerInvariant();
            query = query.Where(e => e.ActorEmail != null && e.ActorEmail.Contains(actor));
        }
        if (!string.IsNullOrWhiteSpace(filter.Action))
        {
            query = query.Where(e => e.Action == filter.Action);
        }
        if (filter.From is { } from)
        {
            var start = from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            query = query.Where(e => e.OccurredAt >= start);
        }
        if (filter.To is { } to)
        {
            var end = to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            query = query.Where(e => e.OccurredAt < end);
        }
        return query;
    }

    /// <summary>Quotes a CSV field and defuses spreadsheet formulas.</summary>
    public static string Csv(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }
        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }
        return "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}

/// <summary>The audit actions the audit log writes about itself.</summary>
public static class AuditLogActions
{
    public const string Exported = "audit.exported";
    public const string Verified = "audit.verified";
}
