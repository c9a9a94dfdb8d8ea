using System.Globalization;
using System.Text;
using AgentSpace.Audit;
using AgentSpace.Chat;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace AgentSpace.Boardroom;

/// <summary>Cancelled when the host stops, so running sessions end as interrupted (resumable) rather than vanish.</summary>
public sealed class BoardroomShutdown : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _cts = new();

    public CancellationToken Token => _cts.Token;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private bool _disposed;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A host whose stop ran past its timeout may have disposed its services already.
        if (!_disposed)
        {
            await _cts.CancelAsync();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _cts.Dispose();
    }
}

/// <summary>
/// Runs boardroom sessions: bounded rounds of member turns, a chair's synthesis and consensus judgement after each,
/// then the decision record. Every model call goes the way a chat call goes: routed in a unit of work, connected
/// outside one, checked by the cost guard first against the session budget (the session is the guard's run, so the
/// budget spans all participants), against the speaking agent's own per-run cost cap (applied to what that agent
/// spent in this session) and the agents' and organization's limits, streamed through the output filter piece by
/// piece, cut off after the chat's answer time limit, recorded in the usage ledger and audited. No unit of work is
/// open during a model call.
/// A singleton; each session runs in the background in its own service scope, as the member who started it
/// (their role is checked on every unit of work), so it goes on when the page that started it closes.
/// </summary>
public sealed class BoardroomEngine(
    IServiceScopeFactory scopes,
    LiveBoardrooms live,
    BoardroomShutdown shutdown,
    OutputFilter filter,
    TenantSecrets secrets,
    TokenCounter tokens,
    TimeProvider clock,
    IOptions<ChatAnswerOptions> answerOptions,
    ILogger<BoardroomEngine> logger)
{
    public const int TurnAllowanceTokens = 1024;
    public const int PickAllowanceTokens = 64;
    public const int RecordAllowanceTokens = 2048;
    /// <summary>Passages of the brief's documents, and of each member's own, given per participant.</summary>
    public const int PassagesPerScope = 4;
    public const int MaxTurnChars = 16_000;
    private const long SaveEveryMs = 1000;

    /// <summary>Starts (or resumes) a session's run here in the background; null when it already runs here.</summary>
    internal LiveSession? Launch(Actor actor, OrgContext org, Guid sessionId)
    {
        var session = live.TryStart(sessionId, shutdown.Token);
        if (session is null)
        {
            return null;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await RunAsync(actor, org, session);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Boardroom session {SessionId} failed", sessionId);
                await FailQuietlyAsync(org, sessionId, "The session could not go on. Resume it to try again.");
            }
            finally
            {
                live.End(session);
            }
        });
        return session;
    }

    private sealed record TurnResult(string Outcome, BoardroomTurn? Turn, string? Message)
    {
        public const string Done = "done";
        public const string Halted = "halted";
        public const string Stopped = "stopped";
        public const string Failed = "failed";
    }

    /// <summary>Everything one run keeps between its units of work.</summary>
    private sealed class Run(Actor actor, OrgContext org, LiveSession live, IServiceProvider services)
    {
        public Actor Actor { get; } = actor;
        public OrgContext Org { get; } = org;
        public LiveSession Live { get; } = live;
        public IServiceProvider Services { get; } = services;
        public ChatCaller Caller { get; } = ChatCaller.For(actor);
        public ChatTenant Tenant => Services.GetRequiredService<ChatTenant>();
        public BoardroomSession Session { get; set; } = default!;
        public Seat Chair { get; set; } = default!;
        public List<Seat> Members { get; } = [];
        public List<BoardroomTurn> Turns { get; } = [];
        public List<BoardroomSource> Sources { get; } = [];
        public Dictionary<Guid, ModelRoute> Routes { get; } = [];
        public Dictionary<Guid, ModelConnection> Connections { get; } = [];
        public Dictionary<Guid, IReadOnlyList<SessionPassage>> Passages { get; } = [];
        public int Sequence { get; set; }
        public bool AllOffline => Routes.Values.All(r => r.IsOffline);
    }

    private async Task RunAsync(Actor actor, OrgContext org, LiveSession liveSession)
    {
        await using var scope = scopes.CreateAsyncScope();
        var run = new Run(actor, org, liveSession, scope.ServiceProvider);
        await LoadAsync(run);
        await GatherPassagesAsync(run);
        var (reason, detail) = await DeliberateAsync(run);
        if (reason == StopReasons.ProviderFailure)
        {
            await FailAsync(run, detail ?? "The model provider failed.");
            return;
        }
        await FinalizeAsync(run, reason, detail);
    }

    /// <summary>The session, its seats, turns and sources, and each participant's route, in one unit of work.</summary>
    private static async Task LoadAsync(Run run)
    {
        var gateway = run.Services.GetRequiredService<IModelGateway>();
        await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Member, "boardroom.run", async (w, t) =>
        {
            run.Session = await w.Db.BoardroomSessions.AsNoTracking().FirstAsync(s => s.Id == run.Live.SessionId, t);
            var seats = await w.Db.BoardroomMembers.AsNoTracking().Where(m => m.SessionId == run.Session.Id).OrderBy(m => m.Seat).ToListAsync(t);
            var ids = seats.Select(s => s.AgentId).Append(run.Session.ChairAgentId).ToList();
            var agents = await w.Db.Agents.AsNoTracking().Where(a => ids.Contains(a.Id)).ToDictionaryAsync(a => a.Id, t);
            foreach (var seat in seats)
            {
                run.Members.Add(new Seat(seat.AgentId, seat.Name, agents.GetValueOrDefault(seat.AgentId)?.Instructions ?? ""));
            }
            run.Chair = new Seat(run.Session.ChairAgentId, run.Session.ChairName, agents.GetValueOrDefault(run.Session.ChairAgentId)?.Instructions ?? "");
            run.Turns.AddRange(await w.Db.BoardroomTurns.AsNoTracking().Where(x => x.SessionId == run.Session.Id).OrderBy(x => x.Sequence).ThenBy(x => x.CreatedAt).ToListAsync(t));
            run.Sources.AddRange(await w.Db.BoardroomSources.AsNoTracking().Where(s => s.SessionId == run.Session.Id).OrderBy(s => s.Number).ToListAsync(t));
            run.Sequence = run.Turns.Select(x => x.Sequence).DefaultIfEmpty(0).Max();
            foreach (var id in ids.Distinct())
            {
                // A deleted agent has no route: its turns fail with a clear reason, and the session can be resumed once it is replaced.
                run.Routes[id] = agents.TryGetValue(id, out var agent)
                    ? await gateway.RouteAsync(w, new ModelChoice(agent.ProviderId, agent.Model), t)
                    : new ModelRoute(ModelChoice.Offline, null, null, ModelPrice.Free, new ModelRouteProblem("This agent no longer exists.", 404));
            }
        }, run.Live.Token);
    }

    /// <summary>The brief's documents' best passages for everyone, and each member's own documents' for that member; numbered once per session.</summary>
    private static async Task GatherPassagesAsync(Run run)
    {
        var knowledge = run.Services.GetRequiredService<KnowledgeSearch>();
        var token = run.Live.Token;
        var brief = run.Session.DocumentIds.Length == 0
            ? []
            : await knowledge.SearchAsSystemAsync(run.Org.Id, run.Session.Question, KnowledgeScope.ForDocuments(run.Session.DocumentIds), PassagesPerScope, token);
        var added = new List<BoardroomSource>();
        IReadOnlyList<SessionPassage> Number(IEnumerable<KnowledgeHit> hits)
        {
            var passages = new List<SessionPassage>();
            foreach (var hit in hits)
            {
                var source = run.Sources.FirstOrDefault(s => s.ChunkId == hit.ChunkId);
                if (source is null)
                {
                    source = new BoardroomSource
                    {
                        SessionId = run.Session.Id,
                        Number = run.Sources.Count + 1,
                        ChunkId = hit.ChunkId,
                        DocumentId = hit.DocumentId,
                        DocumentName = Cut(hit.DocumentName, 300),
                        Page = hit.Page,
                        HeadingPath = Cut(hit.HeadingPath, 1000),
                        Excerpt = Cut(hit.Text, 600),
                    };
                    run.Sources.Add(source);
                    added.Add(source);
                }
                if (passages.All(p => p.Number != source.Number))
                {
                    passages.Add(new SessionPassage(source.Number, TurnCitations.Label(source.Number, hit), hit.Text));
                }
            }
            return passages;
        }
        var shared = Number(brief);
        run.Passages[run.Chair.AgentId] = shared;
        foreach (var member in run.Members)
        {
            var own = await knowledge.SearchAsSystemAsync(run.Org.Id, run.Session.Question, KnowledgeScope.ForAgent(member.AgentId), PassagesPerScope, token);
            run.Passages[member.AgentId] = [.. shared, .. Number(own).Where(p => shared.All(s => s.Number != p.Number))];
        }
        if (added.Count > 0)
        {
            await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Member, "boardroom.run", async (w, t) =>
            {
                w.Db.BoardroomSources.AddRange(added);
                await w.Db.SaveChangesAsync(t);
            }, CancellationToken.None);
        }
    }

    /// <summary>The rounds, from the last completed turn on. Returns why they ended.</summary>
    private async Task<(string Reason, string? Detail)> DeliberateAsync(Run run)
    {
        var session = run.Session;
        for (var round = 1; round <= session.MaxRounds; round++)
        {
            var synthesis = run.Turns.FirstOrDefault(t => t.Kind == TurnKinds.Synthesis && t.Round == round && t.Status == BoardroomTurnStatus.Complete);
            if (synthesis is not null)
            {
                if (synthesis.Stance == "consensus")
                {
                    return (StopReasons.Consensus, null);
                }
                continue;
            }
            while (true)
            {
                var remaining = run.Members.Where(m => !run.Turns.Any(t => t.Kind == TurnKinds.Member && t.Round == round && t.AgentId == m.AgentId
                    && t.Status is BoardroomTurnStatus.Complete or BoardroomTurnStatus.Withheld)).ToList();
                if (remaining.Count == 0)
                {
                    break;
                }
                await RefreshNotesAsync(run);
                var next = remaining[0];
                if (session.SpeakerOrder == SpeakerOrders.ChairPicks && remaining.Count > 1)
                {
                    var pick = await TakeTurnAsync(run, run.Chair, TurnKinds.Pick, round, BoardroomPrompts.Pick(session, run.Chair, remaining, round, run.Turns), PickAllowanceTokens);
                    if (pick.Outcome != TurnResult.Done)
                    {
                        return Ended(pick);
                    }
                    next = BoardroomPrompts.Picked(pick.Turn!.Content, remaining);
                }
                var prompt = BoardroomPrompts.Member(session, next, run.Members, round, run.Turns, run.Passages.GetValueOrDefault(next.AgentId) ?? []);
                var spoken = await TakeTurnAsync(run, next, TurnKinds.Member, round, prompt, TurnAllowanceTokens);
                if (spoken.Outcome != TurnResult.Done)
                {
                    return Ended(spoken);
                }
            }
            await RefreshNotesAsync(run);
            var summary = await TakeTurnAsync(run, run.Chair, TurnKinds.Synthesis, round,
                BoardroomPrompts.Synthesis(session, run.Chair, run.Members, round, run.Turns, run.Passages.GetValueOrDefault(run.Chair.AgentId) ?? []), TurnAllowanceTokens);
            if (summary.Outcome != TurnResult.Done)
            {
                return Ended(summary);
            }
            if (summary.Turn!.Stance == "consensus")
            {
                return (StopReasons.Consensus, null);
            }
        }
        return (StopReasons.MaxRounds, null);

        static (string, string?) Ended(TurnResult result) => result.Outcome switch
        {
            TurnResult.Halted => (StopReasons.BudgetHalt, result.Message),
            TurnResult.Stopped => (StopReasons.Stopped, result.Message),
            _ => (StopReasons.ProviderFailure, result.Message),
        };
    }

    /// <summary>Notes people added while the session ran (a note enters the round after the one in progress when it was written).</summary>
    private static async Task RefreshNotesAsync(Run run)
    {
        var known = run.Turns.Where(t => t.Kind == TurnKinds.Note).Select(t => t.Id).ToList();
        var added = await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Member, "boardroom.run", (w, t) =>
            w.Db.BoardroomTurns.AsNoTracking().Where(x => x.SessionId == run.Session.Id && x.Kind == TurnKinds.Note && !known.Contains(x.Id)).ToListAsync(t),
            run.Live.Token);
        run.Turns.AddRange(added);
    }

    /// <summary>
    /// One model call: the guard's check with the call's projected cost (a halt makes no call and writes no turn), the turn
    /// written as streaming, the stream shown live through the output filter, usage recorded, the turn finished and audited.
    /// </summary>
    private async Task<TurnResult> TakeTurnAsync(Run run, Seat speaker, string kind, int round, List<ChatMessage> prompt, int allowance)
    {
        var token = run.Live.Token;
        if (token.IsCancellationRequested)
        {
            return Cancelled(run);
        }
        var guard = run.Services.GetRequiredService<ICostGuard>();
        var route = run.Routes[speaker.AgentId];
        var budget = new RunBudget(run.Session.Id, speaker.AgentId, run.Session.BudgetUsd);
        var projected = TokenCounter.ProjectCost(route.Price, tokens.CountChat(prompt), allowance);
        SpendDecision decision;
        try
        {
            decision = await guard.CheckCallAsync(run.Org.Id, budget, projected, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return Cancelled(run);
        }
        if (decision.Tier == SpendTier.Halt)
        {
            return new TurnResult(TurnResult.Halted, null, decision.Message);
        }
        var now = clock.GetUtcNow();
        var turn = new BoardroomTurn
        {
            Id = Guid.CreateVersion7(now),
            SessionId = run.Session.Id,
            Round = round,
            Sequence = ++run.Sequence,
            Kind = kind,
            AgentId = speaker.AgentId,
            Speaker = speaker.Name,
            Status = BoardroomTurnStatus.Streaming,
            CreatedAt = now,
        };
        // The agent's own limits (paused, daily messages, monthly budget, the organization's quota) are checked where the
        // turn is written, under the guard's lock for the agent, as a chat answer's are: the next check counts this turn.
        var refusal = await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Member, "boardroom.turn", async (w, t) =>
        {
            if (await guard.CheckTurnAsync(w, speaker.AgentId, t) is { } refused)
            {
                return refused;
            }
            if (await CheckAgentRunCapAsync(w, run.Session.Id, speaker, projected, t) is { } capped)
            {
                return capped;
            }
            w.Db.BoardroomTurns.Add(turn);
            await w.Db.SaveChangesAsync(t);
            return null;
        }, CancellationToken.None);
        if (refusal is not null)
        {
            if (decision.ReservationId is { } unused)
            {
                await guard.ReleaseAsync(run.Org.Id, unused, CancellationToken.None);
            }
            run.Sequence--;
            return new TurnResult(TurnResult.Halted, null, $"{speaker.Name}: {refusal.Reason}");
        }
        run.Turns.Add(turn);
        run.Live.Speak(new LiveSpeech(turn.Id, speaker.Name, kind, round, ""));

        var answer = new StringBuilder();
        var updates = new List<ChatResponseUpdate>();
        ModelConnection? connection = null;
        string status = BoardroomTurnStatus.Complete;
        string? error = null;
        var guarded = filter.SecretsOf(run.Org.Id);
        var hold = OutputFilter.HoldBack(guarded);
        var overlap = OutputFilter.Overlap(guarded, speaker.Instructions);
        string? withheld = null;
        var lastSave = Environment.TickCount64;
        // The turn's time limit runs on the network's clock, as the chat's does (a test's fake clock must not freeze it).
        var turnLimit = answerOptions.Value.MaxAnswerDuration;
        using var timeLimit = new CancellationTokenSource(turnLimit, TimeProvider.System);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, timeLimit.Token);
        var callToken = linked.Token;
        try
        {
            if (!run.Connections.TryGetValue(speaker.AgentId, out connection))
            {
                connection = await run.Services.GetRequiredService<IModelGateway>().ConnectAsync(run.Org.Id, route, callToken);
                run.Connections[speaker.AgentId] = connection;
                // Read after connecting, so the provider's key, opened just now, is among them.
                guarded = filter.SecretsOf(run.Org.Id);
                hold = OutputFilter.HoldBack(guarded);
                overlap = OutputFilter.Overlap(guarded, speaker.Instructions);
            }
            var options = new ChatOptions { MaxOutputTokens = allowance, Temperature = 0.4f };
            await foreach (var update in connection.Client.GetStreamingResponseAsync(prompt, options, callToken))
            {
                update.RawRepresentation = null;
                updates.Add(update);
                if (update.Text is not { Length: > 0 } delta)
                {
                    continue;
                }
                var checkedUpTo = answer.Length;
                var room = MaxTurnChars - answer.Length;
                answer.Append(delta.Length > room ? delta[..Math.Max(room, 0)] : delta);
                // Every new piece is checked, with enough before it for a match that ends in it, before anything of it is
                // shown or saved; a match ends the stream (leaving the loop disposes it, which cancels the provider's response).
                var from = Math.Max(checkedUpTo - overlap, 0);
                if (OutputFilter.Find(answer.ToString(from, answer.Length - from), speaker.Instructions, guarded) is { } found)
                {
                    withheld = found;
                    break;
                }
                var showable = Math.Max(answer.Length - hold, 0);
                run.Live.Speak(new LiveSpeech(turn.Id, speaker.Name, kind, round, answer.ToString(0, showable)));
                if (answer.Length >= MaxTurnChars)
                {
                    break;
                }
                if (Environment.TickCount64 - lastSave >= SaveEveryMs)
                {
                    lastSave = Environment.TickCount64;
                    var shown = answer.ToString(0, showable);
                    await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Member, "boardroom.progress", (w, t) =>
                        w.Db.BoardroomTurns.Where(x => x.Id == turn.Id && x.Status == BoardroomTurnStatus.Streaming)
                            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Content, shown), t), callToken);
                }
            }
        }
        catch (OperationCanceledException) when (timeLimit.IsCancellationRequested && !token.IsCancellationRequested)
        {
            // Our limit, not Stop nor a shutdown: the turn failed, and the session can be resumed from it.
            status = BoardroomTurnStatus.Failed;
            error = $"{speaker.Name}'s turn took longer than {Duration(turnLimit)} and was cut off. Resume the session to try again.";
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            status = BoardroomTurnStatus.Stopped;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            status = BoardroomTurnStatus.Failed;
            error = ProviderError(run.Org.Id, ex);
        }

        // What the call used, even when it was stopped or failed half-way (counted locally, then).
        var response = updates.ToChatResponse();
        var usage = response.Usage;
        var counted = usage?.InputTokenCount is null || usage.OutputTokenCount is null;
        var input = updates.Count == 0 ? 0 : (int)(usage?.InputTokenCount ?? tokens.CountChat(prompt));
        var output = updates.Count == 0 ? 0 : (int)(usage?.OutputTokenCount ?? tokens.Count(response.Text));
        var price = connection?.Price ?? route.Price;
        var cost = price.CostOf(input, output);
        if (updates.Count > 0)
        {
            await guard.RecordAsync(run.Org.Id, new UsageEntry(UsageSources.Boardroom, run.Session.Id, speaker.AgentId, null, turn.Id, run.Actor.UserId,
                connection?.Label ?? "", connection?.Model ?? "", input, output, cost, counted, decision.ReservationId), CancellationToken.None);
        }
        else if (decision.ReservationId is { } reservation)
        {
            await guard.ReleaseAsync(run.Org.Id, reservation, CancellationToken.None);
        }

        var full = answer.ToString();
        var content = status == BoardroomTurnStatus.Complete ? full : full[..Math.Max(full.Length - hold, 0)];
        // Checked once more over the whole text with the secrets as they are now (a key may have been added meanwhile).
        withheld ??= OutputFilter.Find(full, speaker.Instructions, filter.SecretsOf(run.Org.Id));
        if (withheld is not null)
        {
            content = "";
            error = OutputFilter.WithheldMessage(withheld);
            if (status == BoardroomTurnStatus.Complete)
            {
                status = BoardroomTurnStatus.Withheld;
            }
        }
        turn.Content = content;
        turn.Status = status;
        turn.Error = error is null ? null : Cut(error, 1990);
        turn.ProviderLabel = connection?.Label;
        turn.Model = connection?.Model;
        turn.InputTokens = input;
        turn.OutputTokens = output;
        turn.CostUsd = cost;
        turn.CompletedAt = clock.GetUtcNow();
        if (status == BoardroomTurnStatus.Complete)
        {
            if (kind == TurnKinds.Member)
            {
                (turn.Stance, turn.Confidence) = BoardroomPrompts.MemberStance(content);
            }
            else if (kind == TurnKinds.Synthesis)
            {
                turn.Stance = BoardroomPrompts.Consensus(content) ? "consensus" : "no_consensus";
            }
        }
        await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Viewer, "boardroom.turn", async (w, t) =>
        {
            await w.Db.BoardroomTurns.Where(x => x.Id == turn.Id).ExecuteUpdateAsync(s => s
                .SetProperty(x => x.Content, turn.Content)
                .SetProperty(x => x.Status, turn.Status)
                .SetProperty(x => x.Error, turn.Error)
                .SetProperty(x => x.Stance, turn.Stance)
                .SetProperty(x => x.Confidence, turn.Confidence)
                .SetProperty(x => x.ProviderLabel, turn.ProviderLabel)
                .SetProperty(x => x.Model, turn.Model)
                .SetProperty(x => x.InputTokens, turn.InputTokens)
                .SetProperty(x => x.OutputTokens, turn.OutputTokens)
                .SetProperty(x => x.CostUsd, turn.CostUsd)
                .SetProperty(x => x.CompletedAt, turn.CompletedAt), t);
            w.Audit(BoardroomAuditActions.TurnTaken, speaker.Name, new Dictionary<string, string?>
            {
                ["session_id"] = run.Session.Id.ToString(),
                ["turn_id"] = turn.Id.ToString(),
                ["agent_id"] = speaker.AgentId.ToString(),
                ["kind"] = kind,
                ["round"] = round.ToString(CultureInfo.InvariantCulture),
                ["status"] = status,
                ["input_tokens"] = input.ToString(CultureInfo.InvariantCulture),
                ["output_tokens"] = output.ToString(CultureInfo.InvariantCulture),
                ["cost_usd"] = cost.ToString(CultureInfo.InvariantCulture),
                ["provider"] = connection?.Label,
            }, status is BoardroomTurnStatus.Complete ? AuditOutcome.Success : status == BoardroomTurnStatus.Withheld ? AuditOutcome.Denied : AuditOutcome.Failure);
            if (withheld is not null)
            {
                w.Audit(ChatAuditActions.OutputWithheld, turn.Id.ToString(), new Dictionary<string, string?> { ["contained"] = withheld, ["session_id"] = run.Session.Id.ToString() }, AuditOutcome.Denied);
            }
        }, CancellationToken.None);
        run.Live.Speak(null);
        return status switch
        {
            BoardroomTurnStatus.Complete or BoardroomTurnStatus.Withheld => new TurnResult(TurnResult.Done, turn, null),
            BoardroomTurnStatus.Stopped => Cancelled(run, turn),
            _ => new TurnResult(TurnResult.Failed, turn, error),
        };
    }

    /// <summary>
    /// The speaking agent's own per-run cost cap, applied to what that agent spent in this session: the session budget
    /// may be set by any Member, the cap by an Admin, so a session must not let an agent spend past it. The agent's cap is
    /// read on every turn (an Admin may lower it mid-session); the rule is the guard's: a call is refused when what the
    /// agent spent in the session plus the call's projection reaches the cap, and a cap of zero allows only free calls.
    /// Null: go ahead. A session's calls are made one after another, so its ledger is all the agent spent in it.
    /// </summary>
    private static async Task<TurnRefusal?> CheckAgentRunCapAsync(TenantWork work, Guid sessionId, Seat speaker, decimal projectedUsd, CancellationToken ct)
    {
        var cap = await work.Db.Agents.Where(a => a.Id == speaker.AgentId).Select(a => a.RunCostCapUsd).FirstOrDefaultAsync(ct);
        if (cap is not { } capUsd)
        {
            return null;
        }
        var spent = await work.Db.Usage.Where(u => u.RunId == sessionId && u.AgentId == speaker.AgentId).SumAsync(u => (decimal?)u.CostUsd, ct) ?? 0;
        var total = spent + projectedUsd;
        if (capUsd <= 0 ? total <= 0 : total < capUsd)
        {
            return null;
        }
        work.Audit(LimitsAuditActions.RunHalted, speaker.Name, new Dictionary<string, string?>
        {
            ["why"] = "agent_run_cap",
            ["run_id"] = sessionId.ToString(),
            ["agent_id"] = speaker.AgentId.ToString(),
            ["spent_usd"] = spent.ToString(CultureInfo.InvariantCulture),
            ["projected_usd"] = projectedUsd.ToString(CultureInfo.InvariantCulture),
            ["cap_usd"] = capUsd.ToString(CultureInfo.InvariantCulture),
        });
        return new TurnRefusal($"Halted by this agent's cost cap per run: its next call would take it past {UsageFormat.Usd(capUsd)} ({UsageFormat.Usd(spent)} spent by it in this session).");
    }

    /// <summary>Stop pressed ends the session; a shutdown leaves it interrupted (resumable), as a provider failure does.</summary>
    private static TurnResult Cancelled(Run run, BoardroomTurn? turn = null) => run.Live.StopRequested
        ? new TurnResult(TurnResult.Stopped, turn, "Stopped by a member.")
        : new TurnResult(TurnResult.Failed, turn, "The app stopped while the session ran. Resume it to go on.");

    /// <summary>The chair's record when a model may write it, else one assembled from the turns; stored, linked and audited with its hash.</summary>
    private async Task FinalizeAsync(Run run, string reason, string? detail)
    {
        DecisionContent? content = null;
        var chairRoute = run.Routes[run.Chair.AgentId];
        if (reason is StopReasons.Consensus or StopReasons.MaxRounds && !chairRoute.IsOffline)
        {
            var record = await TakeTurnAsync(run, run.Chair, TurnKinds.Record, run.Session.MaxRounds,
                BoardroomPrompts.Record(run.Session, run.Chair, run.Members, run.Turns, run.Passages.GetValueOrDefault(run.Chair.AgentId) ?? [], reason), RecordAllowanceTokens);
            switch (record.Outcome)
            {
                case TurnResult.Done:
                    content = DecisionDrafts.FromChair(record.Turn!.Content, Facts(run, reason));
                    break;
                case TurnResult.Halted:
                    (reason, detail) = (StopReasons.BudgetHalt, record.Message);
                    break;
                case TurnResult.Stopped:
                    (reason, detail) = (StopReasons.Stopped, record.Message);
                    break;
                default:
                    await FailAsync(run, record.Message ?? "The model provider failed.");
                    return;
            }
        }
        content ??= DecisionDrafts.Assemble(Facts(run, reason));
        var canonical = DecisionHash.Serialize(content);
        var recordId = Guid.CreateVersion7(clock.GetUtcNow());
        var hash = DecisionHash.Of(recordId, null, canonical);
        await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Viewer, "boardroom.finalize", async (w, t) =>
        {
            var session = await w.Db.BoardroomSessions.FirstAsync(s => s.Id == run.Session.Id, t);
            w.Db.DecisionRecords.Add(new DecisionRecord
            {
                Id = recordId,
                SessionId = session.Id,
                Version = 1,
                Content = canonical,
                Hash = hash,
                AgentIds = [.. run.Members.Select(m => m.AgentId).Append(run.Chair.AgentId).Distinct()],
                FinalizedAt = content.EndedAt,
                FinalizedBy = session.CreatedBy,
                FinalizedByName = session.CreatedByName,
            });
            session.Status = SessionStatus.Ended;
            session.StopReason = reason;
            session.StopDetail = detail is null ? null : Cut(detail, 1990);
            session.EndedAt = content.EndedAt;
            session.DecisionId = recordId;
            if (reason is StopReasons.BudgetHalt or StopReasons.Stopped)
            {
                w.Audit(BoardroomAuditActions.Halted, Cut(session.Question, 200), new Dictionary<string, string?>
                {
                    ["session_id"] = session.Id.ToString(),
                    ["reason"] = reason,
                    ["detail"] = detail,
                });
            }
            w.Audit(BoardroomAuditActions.Finalized, Cut(session.Question, 200), new Dictionary<string, string?>
            {
                ["session_id"] = session.Id.ToString(),
                ["record_id"] = recordId.ToString(),
                ["hash"] = hash,
                ["stop_reason"] = reason,
                ["produced_offline"] = content.ProducedOffline ? "true" : "false",
            });
            await w.Db.SaveChangesAsync(t);
        }, CancellationToken.None);
    }

    private SessionFacts Facts(Run run, string reason) =>
        new(run.Session, run.Members, run.Turns, run.Sources, reason, run.AllOffline, clock.GetUtcNow());

    /// <summary>A provider failure (or a shutdown) leaves the session failed and resumable from its last completed turn.</summary>
    private static async Task FailAsync(Run run, string message) =>
        await run.Tenant.RunAsync(run.Caller, run.Org, OrgRole.Viewer, "boardroom.fail", async (w, t) =>
        {
            var session = await w.Db.BoardroomSessions.FirstAsync(s => s.Id == run.Session.Id, t);
            session.Status = SessionStatus.Failed;
            session.StopReason = StopReasons.ProviderFailure;
            session.StopDetail = Cut(message, 1990);
            w.Audit(BoardroomAuditActions.Halted, Cut(session.Question, 200), new Dictionary<string, string?>
            {
                ["session_id"] = session.Id.ToString(),
                ["reason"] = StopReasons.ProviderFailure,
                ["detail"] = message,
            }, AuditOutcome.Failure);
            await w.Db.SaveChangesAsync(t);
        }, CancellationToken.None);

    private async Task FailQuietlyAsync(OrgContext org, Guid sessionId, string message)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<TenantOperation>().RunAsSystemAsync(org.Id, "boardroom: session failed", (w, t) =>
                w.Db.BoardroomSessions.Where(s => s.Id == sessionId && s.Status == SessionStatus.Running)
                    .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, SessionStatus.Failed)
                        .SetProperty(x => x.StopReason, StopReasons.ProviderFailure)
                        .SetProperty(x => x.StopDetail, message), t), CancellationToken.None);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not mark boardroom session {SessionId} failed", sessionId);
        }
    }

    /// <summary>The provider's own error text, on one line, without a stack and without any secret.</summary>
    private string ProviderError(Guid organizationId, Exception ex)
    {
        var text = string.Join(' ', ex.Message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        text = Cut(secrets.Redact(organizationId, text), 600);
        return ex is Hosting.UserFacingException ? text : "The model provider failed: " + text;
    }

    private static string Duration(TimeSpan span) => span >= TimeSpan.FromMinutes(1) && span.Seconds == 0 && span.Milliseconds == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0} minute{(span.TotalMinutes == 1 ? "" : "s")}")
        : string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} seconds");

    private static string Cut(string text, int max) => text.Length <= max ? text : text[..max];
}
