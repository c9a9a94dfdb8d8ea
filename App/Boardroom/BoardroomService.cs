using System.Data;
using System.Globalization;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Boardroom;

/// <summary>What a member asks for when convening a session.</summary>
public sealed record SessionInput(
    string Question,
    string? Context,
    IReadOnlyList<Guid> MemberIds,
    Guid? ChairId,
    int Rounds,
    string SpeakerOrder,
    string Mode,
    decimal BudgetUsd,
    IReadOnlyList<Guid>? DocumentIds = null);

public sealed record BoardroomAgentOption(Guid Id, string Name, string Colour, bool Offline, bool Paused);

public sealed record BoardroomDocumentOption(Guid Id, string Name);

public sealed record SessionSummary(Guid Id, string Question, string Status, string? StopReason, int Members, string Chair, DateTimeOffset CreatedAt, Guid? DecisionId);

public sealed record BoardroomHome(OrgContext Org, IReadOnlyList<SessionSummary> Sessions, IReadOnlyList<BoardroomAgentOption> Agents, IReadOnlyList<BoardroomDocumentOption> Documents);

/// <summary>A session as its page shows it. <see cref="Status"/> is <see cref="ShownStatus"/>.</summary>
public sealed record SessionView(
    OrgContext Org,
    BoardroomSession Session,
    string Status,
    IReadOnlyList<BoardroomMember> Members,
    IReadOnlyList<BoardroomTurn> Turns,
    IReadOnlyList<BoardroomSource> Sources,
    decimal SpentUsd)
{
    public bool CanResume => Status is ShownStatus.Failed or ShownStatus.Interrupted;
    public bool CanStop => Status == ShownStatus.Running;
    public bool CanAddNote => Status is ShownStatus.Running or ShownStatus.Failed or ShownStatus.Interrupted;
}

/// <summary>A session's status as shown: a stored "running" with no live run here is interrupted.</summary>
public static class ShownStatus
{
    public const string Running = "running";
    public const string Interrupted = "interrupted";
    public const string Failed = "failed";
    public const string Ended = "ended";
}

public sealed record DecisionFilter(string? Text = null, Guid? AgentId = null, DateOnly? From = null, DateOnly? To = null, string? Status = null);

public sealed record DecisionSummary(Guid Id, Guid SessionId, int Version, string Question, string Decision, string StopReason, bool ProducedOffline,
    DateTimeOffset FinalizedAt, string Status, IReadOnlyList<string> Participants);

public sealed record DecisionList(OrgContext Org, IReadOnlyList<DecisionSummary> Items, IReadOnlyList<BoardroomAgentOption> Agents);

/// <summary>One version in a record's history, oldest first.</summary>
public sealed record DecisionVersion(Guid Id, int Version, DateTimeOffset FinalizedAt, string FinalizedBy, string Hash);

/// <summary>
/// A record with its history and integrity: <see cref="Intact"/> when its stored content still hashes to its hash and
/// that hash is the one the audit chain recorded when it was finalized.
/// </summary>
public sealed record DecisionDetail(OrgContext Org, DecisionView Record, IReadOnlyList<DecisionVersion> History, bool Intact, string OrganizationName);

/// <summary>A member's change to a record: a new version that supersedes it.</summary>
public sealed record DecisionEdit(string Decision, string Rationale, IReadOnlyList<string> Risks, IReadOnlyList<ActionItem> ActionItems, string Reason);

public sealed record DecisionExport(byte[] Bytes, string ContentType, string FileName);

/// <summary>A request the boardroom refuses; the message is safe to show.</summary>
public sealed class BoardroomRuleException(string message) : UserFacingException(message, 400);

public sealed class BoardroomNotFoundException(string what) : UserFacingException($"{what} not found.", 404);

/// <summary>
/// The boardroom's pages call this: convene, watch, stop, resume and annotate sessions; read, search, supersede and
/// export decision records. Viewers read; Members convene, stop, resume, add notes and supersede.
/// </summary>
public sealed class BoardroomService(TenantOperation operations, BoardroomEngine engine, LiveBoardrooms live, TimeProvider clock)
{
    public const int MaxListed = 200;

    public Task<BoardroomHome> HomeAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "boardroom.list", async (w, t) =>
        {
            var sessions = await w.Db.BoardroomSessions.AsNoTracking().OrderByDescending(s => s.CreatedAt).Take(MaxListed)
                .Select(s => new { s.Id, s.Question, s.Status, s.StopReason, s.ChairName, s.CreatedAt, s.DecisionId, Members = w.Db.BoardroomMembers.Count(m => m.SessionId == s.Id) })
                .ToListAsync(t);
            var documents = await w.Db.KnowledgeDocuments.AsNoTracking().Where(d => d.Status == DocumentStatus.Ready).OrderBy(d => d.Name)
                .Select(d => new BoardroomDocumentOption(d.Id, d.Name)).ToListAsync(t);
            return new BoardroomHome(w.Org,
                [.. sessions.Select(s => new SessionSummary(s.Id, s.Question, Shown(s.Id, s.Status), s.StopReason, s.Members, s.ChairName, s.CreatedAt, s.DecisionId))],
                await AgentsAsync(w, t), documents);
        }, ct);

    /// <summary>Validates and stores the session, audits it, and starts its run in the background.</summary>
    public async Task<Guid> StartAsync(Actor actor, OrgRef org, SessionInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(input);
        var question = (input.Question ?? "").Trim();
        var context = (input.Context ?? "").Trim();
        var memberIds = (input.MemberIds ?? []).ToList();
        var documentIds = (input.DocumentIds ?? []).Distinct().ToList();
        Check(question.Length > 0, "Write the question the board should decide.");
        Check(question.Length <= BoardroomLimits.MaxQuestion, $"The question can be at most {BoardroomLimits.MaxQuestion:N0} characters.");
        Check(context.Length <= BoardroomLimits.MaxContext, $"The context can be at most {BoardroomLimits.MaxContext:N0} characters.");
        Check(memberIds.Distinct().Count() == memberIds.Count, "Each agent can take only one seat.");
        Check(memberIds.Count is >= BoardroomLimits.MinMembers and <= BoardroomLimits.MaxMembers,
            $"Choose {BoardroomLimits.MinMembers} to {BoardroomLimits.MaxMembers} member agents.");
        Check(input.ChairId is not null, "Choose a chair.");
        Check(!memberIds.Contains(input.ChairId!.Value), "The chair cannot also sit as a member.");
        Check(input.Rounds is >= BoardroomLimits.MinRounds and <= BoardroomLimits.MaxRounds,
            $"Rounds must be between {BoardroomLimits.MinRounds} and {BoardroomLimits.MaxRounds}.");
        Check(input.SpeakerOrder is SpeakerOrders.RoundRobin or SpeakerOrders.ChairPicks, "Choose a speaker order.");
        Check(input.Mode is BoardroomModes.Sealed or BoardroomModes.Open, "Choose sealed or open mode.");
        Check(input.BudgetUsd is >= 0 and <= BoardroomLimits.MaxBudgetUsd, $"The budget must be between $0 and ${BoardroomLimits.MaxBudgetUsd:N0}.");
        Check(documentIds.Count <= BoardroomLimits.MaxDocuments, $"Attach at most {BoardroomLimits.MaxDocuments} documents.");

        var (id, context2) = await operations.RunAsync(actor, org, OrgRole.Member, "boardroom.start", async (w, t) =>
        {
            var ids = memberIds.Append(input.ChairId.Value).ToList();
            var agents = await w.Db.Agents.AsNoTracking().Where(a => ids.Contains(a.Id)).ToDictionaryAsync(a => a.Id, t);
            if (agents.Count != ids.Count)
            {
                throw new BoardroomNotFoundException("Agent");
            }
            if (agents.Values.FirstOrDefault(a => a.PausedAt is not null) is { } paused)
            {
                throw new BoardroomRuleException($"{paused.Name} is paused and cannot take part. An Admin can resume it on the Usage page.");
            }
            if (documentIds.Count > 0)
            {
                var ready = await w.Db.KnowledgeDocuments.AsNoTracking().CountAsync(d => documentIds.Contains(d.Id) && d.Status == DocumentStatus.Ready, t);
                if (ready != documentIds.Count)
                {
                    throw new BoardroomRuleException("Attach only documents that are ready.");
                }
            }
            var now = clock.GetUtcNow();
            var session = new BoardroomSession
            {
                Id = Guid.CreateVersion7(now),
                Question = question,
                Context = context,
                DocumentIds = [.. documentIds],
                Mode = input.Mode,
                SpeakerOrder = input.SpeakerOrder,
                MaxRounds = input.Rounds,
                BudgetUsd = input.BudgetUsd,
                ChairAgentId = input.ChairId.Value,
                ChairName = agents[input.ChairId.Value].Name,
                Status = SessionStatus.Running,
                CreatedBy = actor.UserId,
                CreatedByName = actor.Email,
                CreatedAt = now,
            };
            w.Db.BoardroomSessions.Add(session);
            w.Db.BoardroomMembers.AddRange(memberIds.Select((m, seat) => new BoardroomMember { SessionId = session.Id, AgentId = m, Seat = seat + 1, Name = agents[m].Name }));
            await w.Db.SaveChangesAsync(t);
            w.Audit(BoardroomAuditActions.SessionStarted, Cut(question, 200), new Dictionary<string, string?>
            {
                ["session_id"] = session.Id.ToString(),
                ["members"] = string.Join(", ", memberIds.Select(m => agents[m].Name)),
                ["chair"] = session.ChairName,
                ["rounds"] = input.Rounds.ToString(CultureInfo.InvariantCulture),
                ["mode"] = input.Mode,
                ["speaker_order"] = input.SpeakerOrder,
                ["budget_usd"] = input.BudgetUsd.ToString(CultureInfo.InvariantCulture),
                ["documents"] = documentIds.Count.ToString(CultureInfo.InvariantCulture),
            });
            return (session.Id, w.Org);
        }, ct);
        engine.Launch(actor, context2, id);
        return id;
    }

    public Task<SessionView> OpenAsync(Actor actor, OrgRef org, Guid sessionId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "boardroom.open", async (w, t) =>
        {
            var session = await w.Db.BoardroomSessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == sessionId, t)
                ?? throw new BoardroomNotFoundException("Session");
            var members = await w.Db.BoardroomMembers.AsNoTracking().Where(m => m.SessionId == sessionId).OrderBy(m => m.Seat).ToListAsync(t);
            var turns = await w.Db.BoardroomTurns.AsNoTracking().Where(x => x.SessionId == sessionId).OrderBy(x => x.CreatedAt).ThenBy(x => x.Sequence).ToListAsync(t);
            var sources = await w.Db.BoardroomSources.AsNoTracking().Where(s => s.SessionId == sessionId).OrderBy(s => s.Number).ToListAsync(t);
            var spent = await w.Db.Usage.Where(u => u.RunId == sessionId).SumAsync(u => (decimal?)u.CostUsd, t) ?? 0;
            return new SessionView(w.Org, session, Shown(session.Id, session.Status), members, turns, sources, spent);
        }, ct);

    /// <summary>Stop pressed: the call in progress ends within a second; what was said is kept and the record is written from it.</summary>
    public async Task StopAsync(Actor actor, OrgRef org, Guid sessionId, CancellationToken ct)
    {
        var status = await operations.RunAsync(actor, org, OrgRole.Member, "boardroom.stop", async (w, t) =>
            await w.Db.BoardroomSessions.AsNoTracking().Where(s => s.Id == sessionId).Select(s => s.Status).FirstOrDefaultAsync(t)
                ?? throw new BoardroomNotFoundException("Session"), ct);
        if (status != SessionStatus.Running || live.Find(sessionId) is not { } running)
        {
            throw new BoardroomRuleException("This session is not running.");
        }
        running.Stop();
    }

    /// <summary>Resumes a failed or interrupted session from its last completed turn.</summary>
    public async Task ResumeAsync(Actor actor, OrgRef org, Guid sessionId, CancellationToken ct)
    {
        if (live.Find(sessionId) is not null)
        {
            throw new BoardroomRuleException("This session is already running.");
        }
        var context = await operations.RunAsync(actor, org, OrgRole.Member, "boardroom.resume", async (w, t) =>
        {
            var session = await w.Db.BoardroomSessions.FirstOrDefaultAsync(s => s.Id == sessionId, t) ?? throw new BoardroomNotFoundException("Session");
            if (session.Status == SessionStatus.Ended)
            {
                throw new BoardroomRuleException("This session has ended; its decision record can be superseded, not the session resumed.");
            }
            session.Status = SessionStatus.Running;
            session.StopReason = null;
            session.StopDetail = null;
            // Turns left streaming by a process that went away are kept as stopped: their words stay, the turn is taken again.
            await w.Db.BoardroomTurns.Where(x => x.SessionId == sessionId && x.Status == BoardroomTurnStatus.Streaming)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, BoardroomTurnStatus.Stopped), t);
            w.Audit(BoardroomAuditActions.SessionResumed, Cut(session.Question, 200), new Dictionary<string, string?> { ["session_id"] = sessionId.ToString() });
            await w.Db.SaveChangesAsync(t);
            return w.Org;
        }, ct);
        if (engine.Launch(actor, context, sessionId) is null)
        {
            throw new BoardroomRuleException("This session is already running.");
        }
    }

    /// <summary>A person's note; it enters the next round's prompts inside the envelope.</summary>
    public Task AddNoteAsync(Actor actor, OrgRef org, Guid sessionId, string text, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var note = (text ?? "").Trim();
        Check(note.Length > 0, "Write the note first.");
        Check(note.Length <= BoardroomLimits.MaxNote, $"A note can be at most {BoardroomLimits.MaxNote:N0} characters.");
        return operations.RunAsync(actor, org, OrgRole.Member, "boardroom.note", async (w, t) =>
        {
            var session = await w.Db.BoardroomSessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == sessionId, t) ?? throw new BoardroomNotFoundException("Session");
            if (session.Status == SessionStatus.Ended)
            {
                throw new BoardroomRuleException("This session has ended.");
            }
            // Notes added at the same moment are counted one after another: the session's row is locked until this commits.
            await w.Db.Database.ExecuteSqlAsync($"select 1 from boardroom_sessions where id = {sessionId} for update", t);
            var current = await w.Db.BoardroomTurns.Where(x => x.SessionId == sessionId && x.Kind != TurnKinds.Note).MaxAsync(x => (int?)x.Round, t) ?? 0;
            var round = current + 1;
            if (round > session.MaxRounds)
            {
                throw new BoardroomRuleException("The last round has begun: there is no next round for a note.");
            }
            var notes = w.Db.BoardroomTurns.Where(x => x.SessionId == sessionId && x.Kind == TurnKinds.Note);
            if (await notes.CountAsync(t) >= BoardroomLimits.MaxNotesPerSession)
            {
                throw new BoardroomRuleException($"This session already has {BoardroomLimits.MaxNotesPerSession} notes, the most it can take.");
            }
            if (await notes.CountAsync(x => x.Round == round, t) >= BoardroomLimits.MaxNotesPerRound)
            {
                throw new BoardroomRuleException($"{BoardroomLimits.MaxNotesPerRound} notes are already waiting for round {round}, the most one round can take. Add more once it has begun.");
            }
            var now = clock.GetUtcNow();
            w.Db.BoardroomTurns.Add(new BoardroomTurn
            {
                Id = Guid.CreateVersion7(now),
                SessionId = sessionId,
                Round = round,
                Sequence = 0,
                Kind = TurnKinds.Note,
                AuthorId = actor.UserId,
                Speaker = actor.Email,
                Content = note,
                Status = BoardroomTurnStatus.Complete,
                CreatedAt = now,
                CompletedAt = now,
            });
            w.Audit(BoardroomAuditActions.NoteAdded, Cut(session.Question, 200), new Dictionary<string, string?>
            {
                ["session_id"] = sessionId.ToString(),
                ["round"] = round.ToString(CultureInfo.InvariantCulture),
                ["chars"] = note.Length.ToString(CultureInfo.InvariantCulture),
            });
            await w.Db.SaveChangesAsync(t);
        }, ct);
    }

    public Task<DecisionList> DecisionsAsync(Actor actor, OrgRef org, DecisionFilter filter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return operations.RunAsync(actor, org, OrgRole.Viewer, "decision.list", async (w, t) =>
        {
            var records = w.Db.DecisionRecords.AsNoTracking();
            if (!string.IsNullOrWhiteSpace(filter.Text))
            {
                var pattern = "%" + LikeEscape(filter.Text.Trim()) + "%";
                records = records.Where(r => EF.Functions.ILike(r.Content, pattern, "\\"));
            }
            if (filter.AgentId is { } agentId)
            {
                records = records.Where(r => r.AgentIds.Contains(agentId));
            }
            if (filter.From is { } from)
            {
                var start = new DateTimeOffset(from.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                records = records.Where(r => r.FinalizedAt >= start);
            }
            if (filter.To is { } to)
            {
                var end = new DateTimeOffset(to.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                records = records.Where(r => r.FinalizedAt < end);
            }
            var successors = w.Db.DecisionRecords.AsNoTracking();
            if (filter.Status == DecisionStatus.Final)
            {
                records = records.Where(r => !successors.Any(s => s.SupersedesId == r.Id));
            }
            else if (filter.Status == DecisionStatus.Superseded)
            {
                records = records.Where(r => successors.Any(s => s.SupersedesId == r.Id));
            }
            var rows = await records.OrderByDescending(r => r.FinalizedAt).Take(MaxListed)
                .Select(r => new { r.Id, r.SessionId, r.Version, r.Content, r.FinalizedAt, Superseded = successors.Any(s => s.SupersedesId == r.Id) })
                .ToListAsync(t);
            var agents = await AgentsAsync(w, t);
            var items = rows.Select(r =>
            {
                var content = DecisionHash.Deserialize(r.Content);
                return new DecisionSummary(r.Id, r.SessionId, r.Version, content.Question, content.Decision, content.StopReason, content.ProducedOffline, r.FinalizedAt,
                    r.Superseded ? DecisionStatus.Superseded : DecisionStatus.Final, [.. content.Positions.Select(p => p.Member).Append(content.Chair)]);
            }).ToList();
            return new DecisionList(w.Org, items, agents);
        }, ct);
    }

    public Task<DecisionDetail> DecisionAsync(Actor actor, OrgRef org, Guid recordId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "decision.open", (w, t) => ReadAsync(w, recordId, t), ct);

    /// <summary>A new version of the newest record of a history; the old one is kept, unchanged, and linked.</summary>
    public async Task<Guid> SupersedeAsync(Actor actor, OrgRef org, Guid recordId, DecisionEdit edit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(edit);
        var decision = (edit.Decision ?? "").Trim();
        var reason = (edit.Reason ?? "").Trim();
        Check(decision.Length > 0, "Write the decision.");
        Check(decision.Length <= 4000, "The decision can be at most 4,000 characters.");
        Check((edit.Rationale ?? "").Length <= 8000, "The rationale can be at most 8,000 characters.");
        Check(reason.Length > 0, "Say why the record changes.");
        Check(reason.Length <= 500, "The reason can be at most 500 characters.");
        Check((edit.Risks ?? []).Count <= 50 && (edit.ActionItems ?? []).Count <= 50, "At most 50 risks and 50 action items.");
        Check((edit.ActionItems ?? []).All(a => !string.IsNullOrWhiteSpace(a.Action) && a.Action.Length <= 1000 && (a.Owner ?? "").Length <= 200),
            "Each action item needs an action (at most 1,000 characters) and an owner of at most 200.");
        try
        {
            return await operations.RunAsync(actor, org, OrgRole.Member, "decision.supersede", async (w, t) =>
            {
                var old = await w.Db.DecisionRecords.AsNoTracking().FirstOrDefaultAsync(r => r.Id == recordId, t) ?? throw new BoardroomNotFoundException("Decision record");
                if (await w.Db.DecisionRecords.AnyAsync(r => r.SupersedesId == recordId, t))
                {
                    throw new BoardroomRuleException("This record has already been superseded: open its newest version to change it.");
                }
                var content = DecisionHash.Deserialize(old.Content) with
                {
                    Decision = decision,
                    Rationale = (edit.Rationale ?? "").Trim(),
                    Risks = [.. (edit.Risks ?? []).Select(r => r.Trim()).Where(r => r.Length > 0)],
                    ActionItems = [.. (edit.ActionItems ?? []).Select(a => a with { Action = a.Action.Trim(), Owner = (a.Owner ?? "").Trim() })],
                };
                var canonical = DecisionHash.Serialize(content);
                var now = clock.GetUtcNow();
                var id = Guid.CreateVersion7(now);
                var hash = DecisionHash.Of(id, old.Id, canonical);
                w.Db.DecisionRecords.Add(new DecisionRecord
                {
                    Id = id,
                    SessionId = old.SessionId,
                    Version = old.Version + 1,
                    Content = canonical,
                    Hash = hash,
                    SupersedesId = old.Id,
                    AgentIds = old.AgentIds,
                    FinalizedAt = now,
                    FinalizedBy = actor.UserId,
                    FinalizedByName = actor.Email,
                });
                await w.Db.BoardroomSessions.Where(s => s.Id == old.SessionId).ExecuteUpdateAsync(s => s.SetProperty(x => x.DecisionId, id), t);
                await w.Db.SaveChangesAsync(t);
                w.Audit(BoardroomAuditActions.Superseded, Cut(content.Question, 200), new Dictionary<string, string?>
                {
                    ["record_id"] = id.ToString(),
                    ["supersedes"] = old.Id.ToString(),
                    ["previous_hash"] = old.Hash,
                    ["hash"] = hash,
                    ["reason"] = reason,
                });
                return id;
            }, ct);
        }
        catch (DbUpdateException)
        {
            // The unique successor index: someone superseded it a moment ago.
            throw new BoardroomRuleException("This record has already been superseded: open its newest version to change it.");
        }
    }

    /// <summary>The record as Markdown or PDF; each export is audited with the hash of what was exported.</summary>
    public async Task<DecisionExport> ExportAsync(Actor actor, OrgRef org, Guid recordId, string format, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Check(format is "md" or "pdf", "Export as md or pdf.");
        var detail = await DecisionAsync(actor, org, recordId, ct);
        var record = detail.Record;
        var name = $"decision-{record.FinalizedAt.UtcDateTime:yyyyMMdd}-{record.Id.ToString("N")[..8]}-v{record.Number}";
        var export = format == "md"
            ? new DecisionExport(System.Text.Encoding.UTF8.GetBytes(Export.DecisionMarkdown.Render(record, detail.OrganizationName)), "text/markdown; charset=utf-8", name + ".md")
            : new DecisionExport(Export.DecisionPdf.Render(record, detail.OrganizationName), "application/pdf", name + ".pdf");
        await operations.RunAsync(actor, org, OrgRole.Viewer, "decision.export", (w, _) =>
        {
            w.Audit(BoardroomAuditActions.Exported, Cut(record.Content.Question, 200), new Dictionary<string, string?>
            {
                ["record_id"] = record.Id.ToString(),
                ["format"] = format,
                ["hash"] = record.Hash,
                ["bytes"] = export.Bytes.Length.ToString(CultureInfo.InvariantCulture),
            });
            return Task.CompletedTask;
        }, ct);
        return export;
    }

    private static async Task<DecisionDetail> ReadAsync(TenantWork w, Guid recordId, CancellationToken t)
    {
        var row = await w.Db.DecisionRecords.AsNoTracking().FirstOrDefaultAsync(r => r.Id == recordId, t) ?? throw new BoardroomNotFoundException("Decision record");
        var history = await w.Db.DecisionRecords.AsNoTracking().Where(r => r.SessionId == row.SessionId).OrderBy(r => r.Version)
            .Select(r => new DecisionVersion(r.Id, r.Version, r.FinalizedAt, r.FinalizedByName, r.Hash)).ToListAsync(t);
        var successor = await w.Db.DecisionRecords.AsNoTracking().Where(r => r.SupersedesId == recordId).Select(r => (Guid?)r.Id).FirstOrDefaultAsync(t);
        var intact = DecisionHash.Of(row.Id, row.SupersedesId, row.Content) == row.Hash && await AuditedAsync(w.Db, row.Hash, t);
        var view = new DecisionView(row.Id, row.SessionId, row.Version, DecisionHash.Deserialize(row.Content), row.Hash, row.FinalizedAt, row.FinalizedByName,
            row.SupersedesId, successor);
        return new DecisionDetail(w.Org, view, history, intact, w.Org.Name);
    }

    /// <summary>Whether the audit chain recorded this hash when a record was finalized or superseded.</summary>
    private static async Task<bool> AuditedAsync(TenantDbContext db, string hash, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("select exists (select 1 from audit_events where action in (@finalized, @superseded) and (details::jsonb ->> 'hash') = @hash)")
            .With("finalized", BoardroomAuditActions.Finalized, DbType.String)
            .With("superseded", BoardroomAuditActions.Superseded, DbType.String)
            .With("hash", hash, DbType.String);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    private static async Task<IReadOnlyList<BoardroomAgentOption>> AgentsAsync(TenantWork w, CancellationToken t) =>
        await w.Db.Agents.AsNoTracking().OrderBy(a => a.Name)
            .Select(a => new BoardroomAgentOption(a.Id, a.Name, a.Colour, a.ProviderId == null, a.PausedAt != null)).ToListAsync(t);

    private string Shown(Guid id, string status) => status switch
    {
        SessionStatus.Running => live.Find(id) is null ? ShownStatus.Interrupted : ShownStatus.Running,
        SessionStatus.Failed => ShownStatus.Failed,
        _ => ShownStatus.Ended,
    };

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new BoardroomRuleException(message);
        }
    }

    private static string LikeEscape(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private static string Cut(string text, int max) => text.Length <= max ? text : text[..max];
}
