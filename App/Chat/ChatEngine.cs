using System.Diagnostics;
using System.Globalization;
using System.Text;
using AgentSpace.Agents;
using AgentSpace.Audit;
using AgentSpace.Chat.Tools;
using AgentSpace.Hosting;
using AgentSpace.Knowledge;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace AgentSpace.Chat;

/// <summary>How a turn ended.</summary>
public sealed record TurnOutcome(Guid ConversationId, Guid UserTurnId, Guid AssistantTurnId, string Status, string Content, string? Error, string? Label);

/// <summary>
/// Runs chat turns: the cost guard's turn check, one short unit of work writing the user turn and a
/// streaming assistant turn, then, outside any unit of work, the model call with our own tool loop (the
/// guard checks the projected cost before every call; every tool call is audited), the output filter on
/// every streamed piece, and short units of work for progress and the result. One engine for the chat
/// page and the admin command; a singleton, each run in its own service scope so a run can write its end
/// after the page that started it has gone.
/// </summary>
public sealed class ChatEngine(
    IServiceScopeFactory scopes,
    LiveRuns runs,
    OutputFilter filter,
    TenantSecrets secrets,
    IOptions<ChatAnswerOptions> answerOptions,
    TokenCounter tokens,
    TimeProvider clock,
    ILogger<ChatEngine> logger)
{
    /// <summary>Model calls per turn at most (a second bound besides the cost cap).</summary>
    public const int MaxModelCalls = 10;
    public const int MaxMemories = 50;
    public const int MaxMemoryChars = 8000;
    public const int MaxHistoryTurns = 40;
    /// <summary>Passages of its documents an offline agent is given with each question.</summary>
    public const int OfflinePassages = 5;
    public const int MaxMessageLength = 20_000;
    /// <summary>The output tokens each call may use, and what the projected cost assumes.</summary>
    public const int OutputAllowanceTokens = 2048;
    public const string HaltedMessage = "Halted by cost cap: this run reached its spending limit before the next model call.";
    private const long SaveEveryMs = 1000;

    /// <summary>Sends a message to an agent, in a conversation of the caller's (or a new one), and streams the answer.</summary>
    public async Task<TurnOutcome> SendAsync(ChatCaller caller, OrgRef org, Guid agentId, Guid? conversationId, string text,
        LiveTurn? watch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var message = (text ?? "").Trim();
        if (message.Length == 0)
        {
            throw new ChatRuleException("Write a message first.");
        }
        if (message.Length > MaxMessageLength)
        {
            throw new ChatRuleException($"A message can be at most {MaxMessageLength:N0} characters.");
        }
        await using var scope = scopes.CreateAsyncScope();
        var tenant = scope.ServiceProvider.GetRequiredService<ChatTenant>();
        var context = await tenant.ResolveAsync(caller, org, OrgRole.Member, "chat.send", ct);
        return await RunAsync(scope.ServiceProvider, caller, context, new TurnRequest(agentId, conversationId, message, null), watch, ct);
    }

    /// <summary>Answers again the user turn that <paramref name="assistantTurnId"/> answered (a failed turn's Retry); the old answer is kept.</summary>
    public async Task<TurnOutcome> RetryAsync(ChatCaller caller, OrgRef org, Guid assistantTurnId, LiveTurn? watch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var scope = scopes.CreateAsyncScope();
        var tenant = scope.ServiceProvider.GetRequiredService<ChatTenant>();
        var context = await tenant.ResolveAsync(caller, org, OrgRole.Member, "chat.retry", ct);
        var target = await tenant.RunAsync(caller, context, OrgRole.Member, "chat.retry", (w, t) =>
            (from m in w.Db.ChatTurns
             join c in w.Db.Conversations on m.ConversationId equals c.Id
             where m.Id == assistantTurnId && m.Role == ChatRoles.Assistant && c.UserId == caller.UserId && m.ReplyToId != null
             select new { c.AgentId, c.Id, m.ReplyToId }).FirstOrDefaultAsync(t), ct)
            ?? throw new ChatNotFoundException("Message");
        return await RunAsync(scope.ServiceProvider, caller, context, new TurnRequest(target.AgentId, target.Id, null, target.ReplyToId), watch, ct);
    }

    /// <summary>A new answer to the conversation's last user turn; the previous answer is kept.</summary>
    public async Task<TurnOutcome> RegenerateAsync(ChatCaller caller, OrgRef org, Guid conversationId, LiveTurn? watch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var scope = scopes.CreateAsyncScope();
        var tenant = scope.ServiceProvider.GetRequiredService<ChatTenant>();
        var context = await tenant.ResolveAsync(caller, org, OrgRole.Member, "chat.regenerate", ct);
        var target = await tenant.RunAsync(caller, context, OrgRole.Member, "chat.regenerate", async (w, t) =>
        {
            var conversation = await w.Db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == conversationId && c.UserId == caller.UserId, t)
                ?? throw new ChatNotFoundException("Conversation");
            var last = await w.Db.ChatTurns.AsNoTracking().Where(m => m.ConversationId == conversationId && m.Role == ChatRoles.User)
                .OrderByDescending(m => m.CreatedAt).Select(m => (Guid?)m.Id).FirstOrDefaultAsync(t)
                ?? throw new ChatRuleException("There is no message to answer yet.");
            return (conversation.AgentId, last);
        }, ct);
        return await RunAsync(scope.ServiceProvider, caller, context, new TurnRequest(target.AgentId, conversationId, null, target.last), watch, ct);
    }

    private sealed record TurnRequest(Guid AgentId, Guid? ConversationId, string? Text, Guid? AnswerUserTurnId);

    /// <summary>
    /// A written turn, ready to stream: the prompt, the route to the model and the first call's spend decision, all
    /// read and made in the unit of work that wrote the turn.
    /// </summary>
    private sealed record TurnStart(Agent Agent, List<ChatMessage> Prompt, Guid ConversationId, ChatTurn UserTurn, Guid AssistantTurnId,
        TurnRefusal? Refusal, ModelRoute? Route, SpendDecision? FirstCall);

    private async Task<TurnOutcome> RunAsync(IServiceProvider services, ChatCaller caller, OrgContext org, TurnRequest request, LiveTurn? watch, CancellationToken ct)
    {
        var tenant = services.GetRequiredService<ChatTenant>();
        var guard = services.GetRequiredService<ICostGuard>();
        var runId = Guid.CreateVersion7();
        // Live before the turn is written, so a page reading the conversation meanwhile does not take it for interrupted.
        var run = runs.Start(runId, caller.UserId, ct);
        try
        {
            var start = await BeginAsync(tenant, guard, services.GetRequiredService<IModelGateway>(), caller, org, request, runId, ct);
            watch ??= new LiveTurn();
            watch.ConversationId = start.ConversationId;
            watch.UserTurnId = start.UserTurn.Id;
            watch.AssistantTurnId = start.AssistantTurnId;
            watch.RunId = runId;
            if (start.Refusal is { } refusal)
            {
                watch.Status = TurnStatus.Refused;
                watch.Error = refusal.Reason;
                watch.Raise();
                return new TurnOutcome(start.ConversationId, start.UserTurn.Id, start.AssistantTurnId, TurnStatus.Refused, "", refusal.Reason, null);
            }
            watch.Raise();
            return await StreamAsync(services, tenant, guard, caller, org, start, run, watch);
        }
        finally
        {
            runs.End(run);
        }
    }

    private async Task<TurnStart> BeginAsync(ChatTenant tenant, ICostGuard guard, IModelGateway gateway, ChatCaller caller, OrgContext org, TurnRequest request,
        Guid runId, CancellationToken ct) =>
        await tenant.RunAsync(caller, org, OrgRole.Member, "chat.send", async (w, t) =>
        {
            var agent = await w.Db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == request.AgentId, t)
                ?? throw new ChatNotFoundException("Agent");
            // In this unit of work, under the guard's lock for the agent: the answer written below is counted by the next turn's check.
            var refusal = await guard.CheckTurnAsync(w, agent.Id, t);
            var now = clock.GetUtcNow();
            Conversation conversation;
            if (request.ConversationId is { } conversationId)
            {
                conversation = await w.Db.Conversations.FirstOrDefaultAsync(c => c.Id == conversationId && c.UserId == caller.UserId && c.AgentId == agent.Id, t)
                    ?? throw new ChatNotFoundException("Conversation");
            }
            else
            {
                conversation = new Conversation
                {
                    Id = Guid.CreateVersion7(),
                    AgentId = agent.Id,
                    UserId = caller.UserId,
                    Title = TitleOf(request.Text ?? ""),
                    CreatedAt = now,
                    UpdatedAt = now,
                };
                w.Db.Conversations.Add(conversation);
            }
            var isNew = request.ConversationId is null;
            var turns = w.Db.ChatTurns.AsNoTracking().Where(m => m.ConversationId == conversation.Id);
            // Turns are ordered by time; each new one is placed after the last, so order holds even when the clock has not moved.
            var last = isNew ? null : await turns.MaxAsync(m => (DateTimeOffset?)m.CreatedAt, t);
            var at = last is { } l && l >= now ? l.AddTicks(10) : now;
            ChatTurn user;
            if (request.AnswerUserTurnId is { } answerId)
            {
                user = await turns.FirstOrDefaultAsync(m => m.Id == answerId && m.Role == ChatRoles.User, t)
                    ?? throw new ChatNotFoundException("Message");
            }
            else
            {
                user = new ChatTurn
                {
                    Id = Guid.CreateVersion7(),
                    ConversationId = conversation.Id,
                    Role = ChatRoles.User,
                    Content = request.Text!,
                    Status = TurnStatus.Complete,
                    CreatedAt = at,
                    CompletedAt = now,
                };
                w.Db.ChatTurns.Add(user);
                at = at.AddTicks(10);
            }
            var history = isNew ? [] : await turns.Where(m => m.CreatedAt < user.CreatedAt).OrderByDescending(m => m.CreatedAt).Take(MaxHistoryTurns).ToListAsync(t);
            history.Reverse();
            var assistant = new ChatTurn
            {
                Id = Guid.CreateVersion7(),
                ConversationId = conversation.Id,
                Role = ChatRoles.Assistant,
                Status = refusal is null ? TurnStatus.Streaming : TurnStatus.Refused,
                Error = refusal?.Reason,
                RunId = runId,
                ReplyToId = user.Id,
                CreatedAt = at,
                CompletedAt = refusal is null ? null : now,
            };
            w.Db.ChatTurns.Add(assistant);
            conversation.UpdatedAt = now;
            var memories = await w.Db.AgentMemories.AsNoTracking().Where(m => m.AgentId == agent.Id)
                .OrderByDescending(m => m.CreatedAt).Take(MaxMemories).ToListAsync(t);
            await w.Db.SaveChangesAsync(t);
            var prompt = Prompt(agent, memories, history, user.Content);
            if (refusal is not null)
            {
                return new TurnStart(agent, prompt, conversation.Id, user, assistant.Id, refusal, null, null);
            }
            // The first model call is checked here, where the turn is written, rather than in a unit of work of its own.
            var route = await gateway.RouteAsync(w, new ModelChoice(agent.ProviderId, agent.Model), t);
            SpendDecision? first = null;
            if (route.Problem is null)
            {
                var projected = TokenCounter.ProjectCost(route.Price, CountPrompt(prompt), OutputAllowanceTokens);
                first = await guard.CheckCallAsync(w, new RunBudget(runId, agent.Id, agent.RunCostCapUsd), projected, t);
            }
            return new TurnStart(agent, prompt, conversation.Id, user, assistant.Id, null, route, first);
        }, ct);

    /// <summary>The model calls and tool loop, outside any unit of work.</summary>
    private async Task<TurnOutcome> StreamAsync(IServiceProvider services, ChatTenant tenant, ICostGuard guard, ChatCaller caller, OrgContext org,
        TurnStart start, LiveRun run, LiveTurn watch)
    {
        var limits = answerOptions.Value;
        // The answer's time limit runs on the network's clock, like the provider calls' own timeouts (a test's fake clock must not freeze it).
        using var timeLimit = new CancellationTokenSource(limits.MaxAnswerDuration, TimeProvider.System);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(run.Token, timeLimit.Token);
        var token = linked.Token;
        var agent = start.Agent;
        var answer = new StringBuilder();
        var guarded = filter.SecretsOf(org.Id);
        var hold = 0;
        var shownLength = 0;
        var cut = false;
        var notices = new List<string>();
        string status;
        string? error = null;
        string? withheld = null;
        ModelConnection? connection = null;
        int inputTokens = 0, outputTokens = 0;
        decimal cost = 0;
        var toolSequence = 0;
        var lastSave = Environment.TickCount64;
        Exception? providerFailure = null;
        var firstCallTaken = false;
        var citations = new TurnCitations();
        try
        {
            try
            {
                connection = await services.GetRequiredService<IModelGateway>().ConnectAsync(org.Id, start.Route!, token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                providerFailure = ex;
                throw;
            }
            watch.Label = connection.Label;
            watch.Raise();
            // Read after connecting, so the provider's key, opened just now, is among them.
            guarded = filter.SecretsOf(org.Id);
            hold = OutputFilter.HoldBack(guarded);
            var overlap = OutputFilter.Overlap(guarded, agent.Instructions);
            var messages = start.Prompt;
            var knowledge = services.GetRequiredService<KnowledgeSearch>();
            if (connection.IsOffline)
            {
                // The offline provider cannot call tools: it is given the best passages of the agent's documents up front.
                var hits = await knowledge.SearchAsSystemAsync(org.Id, start.UserTurn.Content, KnowledgeScope.ForAgent(agent.Id), OfflinePassages, token);
                if (hits.Count > 0)
                {
                    var passages = new StringBuilder(messages[0].Text).Append("\n\nPassages from the documents attached to you:\n");
                    foreach (var hit in hits)
                    {
                        passages.Append(UntrustedContent.Wrap(TurnCitations.Label(citations.Register(hit), hit), hit.Text)).Append('\n');
                    }
                    messages[0] = new ChatMessage(ChatRole.System, passages.ToString());
                }
            }
            var toolbox = AgentToolbox.For(agent.Tools, new ToolContext(tenant, caller, org, agent.Id, start.AssistantTurnId, citations), clock, knowledge);
            var options = new ChatOptions
            {
                Temperature = (float)agent.Temperature,
                MaxOutputTokens = OutputAllowanceTokens,
                Tools = toolbox.Tools.Count == 0 ? null : [.. toolbox.Tools],
            };
            var budget = new RunBudget(run.RunId, agent.Id, agent.RunCostCapUsd);
            status = TurnStatus.Complete;
            for (var call = 0; ; call++)
            {
                if (call == MaxModelCalls)
                {
                    Notice($"Stopped after {MaxModelCalls} model calls in one answer.");
                    break;
                }
                SpendDecision decision;
                if (call == 0 && start.FirstCall is { } first)
                {
                    decision = first;
                    firstCallTaken = true;
                }
                else
                {
                    var projected = TokenCounter.ProjectCost(connection.Price, CountPrompt(messages), OutputAllowanceTokens);
                    decision = await guard.CheckCallAsync(org.Id, budget, projected, token);
                }
                if (decision.Tier == SpendTier.Halt)
                {
                    status = TurnStatus.HaltedByCostCap;
                    error = decision.Message is { Length: > 0 } m && m.StartsWith("Halted", StringComparison.Ordinal) ? m : HaltedMessage;
                    break;
                }
                if (decision.Tier is SpendTier.Warn or SpendTier.Slow)
                {
                    Notice(decision.Message ?? (decision.Tier == SpendTier.Warn ? "This run has used half of its cost cap." : "This run is close to its cost cap and slows down."));
                }

                var updates = new List<ChatResponseUpdate>();
                var separated = answer.Length == 0;
                try
                {
                    // Inside the try: the call's reservation is settled in the finally even when Stop ends the wait.
                    if (decision.Tier == SpendTier.Slow && call > 0 && decision.Delay > TimeSpan.Zero)
                    {
                        await Task.Delay(decision.Delay, token);
                    }
                    await foreach (var update in connection.Client.GetStreamingResponseAsync(messages, options, token))
                    {
                        // Kept until the call ends (text, tool calls, usage); the SDK's raw copy of each piece is
                        // not needed and is most of its size.
                        update.RawRepresentation = null;
                        updates.Add(update);
                        if (update.Text is not { Length: > 0 } delta)
                        {
                            continue;
                        }
                        var checkedUpTo = answer.Length;
                        if (!separated)
                        {
                            answer.Append("\n\n");
                            separated = true;
                        }
                        var room = limits.MaxAnswerChars - answer.Length;
                        if (delta.Length >= room)
                        {
                            // Beyond the limit the call is cancelled (leaving the loop below disposes the stream).
                            delta = delta[..Math.Max(room, 0)];
                            cut = true;
                        }
                        answer.Append(delta);
                        // Only the new text and enough before it for a match that ends in it: linear in the answer's length.
                        var from = Math.Max(checkedUpTo - overlap, 0);
                        if (OutputFilter.Find(answer.ToString(from, answer.Length - from), agent.Instructions, guarded) is { } found)
                        {
                            // Leaving the loop disposes the stream, which cancels the provider's response.
                            withheld = found;
                            break;
                        }
                        // The last `hold` characters are never shown while streaming, whatever they are.
                        var showable = Math.Max(answer.Length - hold, 0);
                        if (showable > shownLength)
                        {
                            shownLength = showable;
                            watch.Text = answer.ToString(0, showable);
                            watch.Raise();
                        }
                        if (cut)
                        {
                            break;
                        }
                        if (Environment.TickCount64 - lastSave >= SaveEveryMs)
                        {
                            lastSave = Environment.TickCount64;
                            await SaveProgressAsync(tenant, caller, org, start.AssistantTurnId, watch.Text, token);
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    providerFailure = ex;
                    throw;
                }
                finally
                {
                    // Record what the call used even when it was stopped or failed half-way (counted, then).
                    var response = updates.ToChatResponse();
                    var usage = response.Usage;
                    var counted = usage?.InputTokenCount is null || usage.OutputTokenCount is null;
                    var input = (int)(usage?.InputTokenCount ?? CountPrompt(messages));
                    var output = (int)(usage?.OutputTokenCount ?? tokens.Count(response.Text) + CountCalls(response.Messages));
                    var callCost = connection.Price.CostOf(input, output);
                    inputTokens += input;
                    outputTokens += output;
                    cost += callCost;
                    if (updates.Count > 0)
                    {
                        await guard.RecordAsync(org.Id, new UsageEntry(caller.Source, run.RunId, agent.Id, start.ConversationId, start.AssistantTurnId,
                            caller.Person?.UserId, connection.Label, connection.Model, input, output, callCost, counted, decision.ReservationId), CancellationToken.None);
                    }
                    else if (decision.ReservationId is { } reservation)
                    {
                        await guard.ReleaseAsync(org.Id, reservation, CancellationToken.None);
                    }
                }
                if (withheld is not null)
                {
                    status = TurnStatus.Refused;
                    error = OutputFilter.WithheldMessage(withheld);
                    break;
                }
                if (cut)
                {
                    Notice($"The answer was cut at {limits.MaxAnswerChars:N0} characters.");
                    break;
                }
                var result = updates.ToChatResponse();
                var calls = result.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
                if (calls.Count == 0)
                {
                    break;
                }
                messages.AddRange(result.Messages);
                var reason = result.Text.Trim();
                var results = new List<AIContent>();
                foreach (var functionCall in calls)
                {
                    results.Add(await CallToolAsync(tenant, caller, org, start, toolbox, functionCall, reason.Length == 0 ? null : reason, ++toolSequence, watch, token));
                }
                messages.Add(new ChatMessage(ChatRole.Tool, results));
            }
        }
        catch (OperationCanceledException) when (timeLimit.IsCancellationRequested && !run.Token.IsCancellationRequested)
        {
            // Our limit, not the person's Stop nor a shutdown: the turn is complete with what it has, and says why.
            status = TurnStatus.Complete;
            cut = true;
            Notice($"The answer took longer than {Duration(limits.MaxAnswerDuration)} and was cut there.");
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            status = run.StopRequested ? TurnStatus.Stopped : TurnStatus.Interrupted;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            status = TurnStatus.Failed;
            if (ReferenceEquals(ex, providerFailure) || ex is UserFacingException)
            {
                error = ProviderError(org.Id, ex);
            }
            else
            {
                logger.LogError(ex, "Chat run {RunId} failed", run.RunId);
                error = "The answer could not be completed. Try again.";
            }
        }

        if (!firstCallTaken && start.FirstCall?.ReservationId is { } unused)
        {
            // The first call was admitted when the turn was written but never made (no connection, or stopped first).
            await guard.ReleaseAsync(org.Id, unused, CancellationToken.None);
        }
        var full = status == TurnStatus.Refused ? "" : answer.ToString();
        // An answer the model ended keeps all its text. One that was cut off (Stop, a shutdown, a failure, a limit) keeps
        // what was shown: everything but the held-back tail, decided by its length alone, never by what it holds.
        var content = status is TurnStatus.Complete or TurnStatus.HaltedByCostCap && !cut ? full : full[..Math.Max(full.Length - hold, 0)];
        // The whole text, with the organization's secrets as they are now (a key registered while the answer streamed
        // is caught here at the latest): withheld only on a whole match.
        if (status != TurnStatus.Refused && OutputFilter.Find(full, agent.Instructions, filter.SecretsOf(org.Id)) is { } late)
        {
            withheld = late;
            status = TurnStatus.Refused;
            error = OutputFilter.WithheldMessage(late);
            content = "";
        }
        if (error is null && notices.Count > 0)
        {
            // Notices (cost-cap tiers, the call limit) are kept with the turn so a reload still shows them.
            error = string.Join(" ", notices);
        }
        var sources = content.Length == 0 ? [] : citations.SourcesFor(start.AssistantTurnId, content);
        await FinishAsync(tenant, caller, org, start.AssistantTurnId, content, status, error, connection, inputTokens, outputTokens, cost, withheld, sources);
        watch.Text = content;
        watch.Status = status;
        watch.Error = error;
        watch.Raise();
        return new TurnOutcome(start.ConversationId, start.UserTurn.Id, start.AssistantTurnId, status, content, error, connection?.Label);

        void Notice(string notice)
        {
            if (!notices.Contains(notice))
            {
                notices.Add(notice);
            }
            watch.AddNotice(notice);
        }
    }

    private async Task<AIContent> CallToolAsync(ChatTenant tenant, ChatCaller caller, OrgContext org, TurnStart start, AgentToolbox toolbox,
        FunctionCallContent call, string? reason, int sequence, LiveTurn watch, CancellationToken token)
    {
        var started = Stopwatch.GetTimestamp();
        var function = toolbox.Find(call.Name);
        string result;
        string outcome;
        if (function is null)
        {
            result = $"No tool named '{call.Name}' is available to this agent.";
            outcome = AuditOutcome.Denied;
        }
        else
        {
            try
            {
                result = ToolArguments.TextOf(await function.InvokeAsync(new AIFunctionArguments(call.Arguments), token));
                outcome = AuditOutcome.Success;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Tool {Tool} failed", call.Name);
                result = "The tool failed.";
                outcome = AuditOutcome.Failure;
            }
        }
        var duration = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        // The organization's own secrets and the configured ones: another organization's keys never change this one's records.
        string Redact(string text) => secrets.Redact(org.Id, text);
        var arguments = ToolArguments.Redact(call.Arguments, Redact);
        var statedReason = reason is null ? null : ToolArguments.Cut(Redact(reason), 1900);
        var preview = ToolArguments.Cut(Redact(result), 500);
        var toolName = ToolArguments.Cut(call.Name, 90);
        await tenant.RunAsync(caller, org, OrgRole.Viewer, "chat.tool", async (w, t) =>
        {
            w.Db.ToolCalls.Add(new ToolCallRecord
            {
                Id = Guid.CreateVersion7(),
                MessageId = start.AssistantTurnId,
                Sequence = sequence,
                Tool = toolName,
                ArgumentsRedacted = arguments,
                Reason = statedReason,
                Outcome = outcome,
                ResultChars = result.Length,
                ResultPreview = preview,
                DurationMs = duration,
                CreatedAt = clock.GetUtcNow(),
            });
            w.Audit(ChatAuditActions.ToolCalled, toolName, new Dictionary<string, string?>
            {
                ["tool"] = toolName,
                ["arguments"] = arguments,
                ["reason"] = statedReason,
                ["message_id"] = start.AssistantTurnId.ToString(),
                ["reply_to"] = start.UserTurn.Id.ToString(),
                ["agent_id"] = start.Agent.Id.ToString(),
                ["result_chars"] = result.Length.ToString(CultureInfo.InvariantCulture),
                ["duration_ms"] = duration.ToString(CultureInfo.InvariantCulture),
                ["outcome"] = outcome,
            }, outcome);
            await w.Db.SaveChangesAsync(t);
        }, CancellationToken.None);
        watch.AddStep(new ToolStep(toolName, arguments, statedReason, outcome, preview, result.Length, duration));
        return new FunctionResultContent(call.CallId, UntrustedContent.Wrap("tool:" + call.Name, result));
    }

    private static async Task SaveProgressAsync(ChatTenant tenant, ChatCaller caller, OrgContext org, Guid turnId, string content, CancellationToken ct) =>
        await tenant.RunAsync(caller, org, OrgRole.Viewer, "chat.progress", (w, t) =>
            w.Db.ChatTurns.Where(m => m.Id == turnId && m.Status == TurnStatus.Streaming)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.Content, content), t), ct);

    private async Task FinishAsync(ChatTenant tenant, ChatCaller caller, OrgContext org, Guid turnId, string content, string status, string? error,
        ModelConnection? connection, int inputTokens, int outputTokens, decimal cost, string? withheld, IReadOnlyList<TurnSource> sources)
    {
        try
        {
            await tenant.RunAsync(caller, org, OrgRole.Viewer, "chat.finish", async (w, t) =>
            {
                var turn = await w.Db.ChatTurns.FirstAsync(m => m.Id == turnId, t);
                turn.Content = content;
                turn.Status = status;
                turn.Error = error is null ? null : ToolArguments.Cut(error, 1990);
                turn.ProviderLabel = connection?.Label;
                turn.Model = connection?.Model;
                turn.InputTokens = inputTokens;
                turn.OutputTokens = outputTokens;
                turn.CostUsd = cost;
                turn.CompletedAt = clock.GetUtcNow();
                w.Db.TurnSources.AddRange(sources);
                if (withheld is not null)
                {
                    w.Audit(ChatAuditActions.OutputWithheld, turnId.ToString(), new Dictionary<string, string?> { ["contained"] = withheld }, AuditOutcome.Denied);
                }
                await w.Db.SaveChangesAsync(t);
            }, CancellationToken.None);
        }
        catch (Exception ex) when (ex is UserFacingException or DbUpdateException)
        {
            // The caller lost access mid-run, or the conversation was deleted: the turn is left as it was
            // (a streaming turn with no live run reads as interrupted).
            logger.LogWarning(ex, "Could not store the end of turn {TurnId}", turnId);
        }
    }

    /// <summary>System prompt (instructions, the envelope rule, memories each in an envelope), history, and the question.</summary>
    internal static List<ChatMessage> Prompt(Agent agent, IReadOnlyList<AgentMemory> memories, IReadOnlyList<ChatTurn> history, string question)
    {
        var system = new StringBuilder();
        if (!string.IsNullOrWhiteSpace(agent.Instructions))
        {
            system.Append(agent.Instructions.Trim()).Append("\n\n");
        }
        system.Append(UntrustedContent.Rule);
        if (memories.Count > 0)
        {
            system.Append("\n\nFacts you saved earlier (memories):\n");
            var used = 0;
            foreach (var memory in memories)
            {
                if (used + memory.Fact.Length > MaxMemoryChars)
                {
                    break;
                }
                used += memory.Fact.Length;
                system.Append(UntrustedContent.Wrap("memory: " + FirstWords(memory.Fact), memory.Fact)).Append('\n');
            }
        }
        var messages = new List<ChatMessage> { new(ChatRole.System, system.ToString()) };
        foreach (var turn in history)
        {
            if (turn.Role == ChatRoles.User)
            {
                messages.Add(new ChatMessage(ChatRole.User, turn.Content));
            }
            else if (turn.Content.Length > 0 && turn.Status is TurnStatus.Complete or TurnStatus.Stopped or TurnStatus.Interrupted or TurnStatus.HaltedByCostCap)
            {
                messages.Add(new ChatMessage(ChatRole.Assistant, turn.Content));
            }
        }
        messages.Add(new ChatMessage(ChatRole.User, question));
        return messages;
    }

    private static string FirstWords(string text)
    {
        var words = text.Split((char[]?)null, 7, StringSplitOptions.RemoveEmptyEntries);
        var start = string.Join(' ', words.Take(6));
        return ToolArguments.Cut(start, 48);
    }

    internal static string TitleOf(string text)
    {
        var line = text.Trim().Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "New conversation" : ToolArguments.Cut(line, 60);
    }

    /// <summary>Input tokens of a prompt: the messages' text, and the tool calls and results they carry.</summary>
    private int CountPrompt(IEnumerable<ChatMessage> messages)
    {
        var list = messages as IReadOnlyCollection<ChatMessage> ?? [.. messages];
        return tokens.CountChat(list) + CountCalls(list) + list.Sum(m => m.Contents.OfType<FunctionResultContent>().Sum(r => tokens.Count(ToolArguments.TextOf(r.Result))));
    }

    private int CountCalls(IEnumerable<ChatMessage> messages) =>
        messages.Sum(m => m.Contents.OfType<FunctionCallContent>().Sum(c => tokens.Count(c.Name) + tokens.Count(ToolArguments.TextOf(c.Arguments))));

    /// <summary>The provider's own error text, on one line, without a stack and without any secret.</summary>
    private string ProviderError(Guid organizationId, Exception ex)
    {
        var text = string.Join(' ', ex.Message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        text = ToolArguments.Cut(secrets.Redact(organizationId, text), 600);
        return ex is UserFacingException ? text : "The model provider failed: " + text;
    }

    private static string Duration(TimeSpan span) => span >= TimeSpan.FromMinutes(1) && span.Seconds == 0 && span.Milliseconds == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0} minute{(span.TotalMinutes == 1 ? "" : "s")}")
        : string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} seconds");
}
