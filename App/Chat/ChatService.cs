using AgentSpace.Audit;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Chat;

/// <summary>An agent one can chat with, as the chat pages list it.</summary>
public sealed record ChatAgent(Guid Id, string Name, string Colour, string Description, bool Paused, string? PausedReason, bool Offline);

public sealed record ConversationSummary(Guid Id, Guid AgentId, string Title, DateTimeOffset UpdatedAt);

/// <summary>A stored turn with its tool steps, as the chat shows it.</summary>
public sealed record TurnView(Guid Id, string Role, string Content, string Status, string? Error, string? Label, Guid? RunId,
    Guid? ReplyToId, int InputTokens, int OutputTokens, decimal CostUsd, DateTimeOffset CreatedAt, IReadOnlyList<ToolStep> Steps,
    IReadOnlyList<SourceView> Sources);

/// <summary>A numbered source an answer cites, as the chat lists it under the answer.</summary>
public sealed record SourceView(int Number, string DocumentName, int? Page, string HeadingPath)
{
    public string Label => TurnCitations.Label(Number, DocumentName, Page, HeadingPath);
}

/// <summary>The passage behind a citation, for the side panel; <see cref="Text"/> is null once its document is deleted.</summary>
public sealed record PassageView(int Number, string DocumentName, int? Page, string HeadingPath, string? Text);

/// <summary>What the chat page shows for one agent: the caller's conversations with it and the open one's turns.</summary>
public sealed record ChatView(OrgContext Org, ChatAgent Agent, IReadOnlyList<ConversationSummary> Conversations,
    ConversationSummary? Open, IReadOnlyList<TurnView> Turns);

/// <summary>
/// The chat's reads and conversation housekeeping. A person sees and changes only their own conversations;
/// another person's conversation, or another organization's agent or conversation, is not found.
/// </summary>
public sealed class ChatService(TenantOperation operations, LiveRuns runs, TimeProvider clock)
{
    public const int MaxConversationsListed = 100;

    public Task<(OrgContext Org, IReadOnlyList<ChatAgent> Agents)> ListAgentsAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync<(OrgContext, IReadOnlyList<ChatAgent>)>(actor, org, OrgRole.Viewer, "chat.agents", async (w, t) =>
        {
            var agents = await w.Db.Agents.AsNoTracking().OrderBy(a => a.Name)
                .Select(a => new ChatAgent(a.Id, a.Name, a.Colour, a.Description, a.PausedAt != null, a.PausedReason, a.ProviderId == null))
                .ToListAsync(t);
            return (w.Org, agents);
        }, ct);

    /// <summary>
    /// The agent, the caller's conversations with it (or those matching <paramref name="search"/> across
    /// all of the caller's conversations), and the open conversation's turns. Turns left streaming by a run
    /// this process no longer has are stored as interrupted.
    /// </summary>
    public Task<ChatView> OpenAsync(Actor actor, OrgRef org, Guid agentId, Guid? conversationId, string? search, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "chat.open", async (w, t) =>
        {
            var agent = await w.Db.Agents.AsNoTracking().Where(a => a.Id == agentId)
                .Select(a => new ChatAgent(a.Id, a.Name, a.Colour, a.Description, a.PausedAt != null, a.PausedReason, a.ProviderId == null))
                .FirstOrDefaultAsync(t) ?? throw new ChatNotFoundException("Agent");
            var mine = w.Db.Conversations.AsNoTracking().Where(c => c.UserId == actor.UserId);
            IQueryable<Conversation> listed;
            if (string.IsNullOrWhiteSpace(search))
            {
                listed = mine.Where(c => c.AgentId == agentId);
            }
            else
            {
                var pattern = "%" + Tools.MemoryPlugin.EscapeLike(search.Trim()) + "%";
                listed = mine.Where(c => EF.Functions.ILike(c.Title, pattern, "\\")
                    || w.Db.ChatTurns.Any(m => m.ConversationId == c.Id && EF.Functions.ILike(m.Content, pattern, "\\")));
            }
            var conversations = await listed.OrderByDescending(c => c.UpdatedAt).Take(MaxConversationsListed)
                .Select(c => new ConversationSummary(c.Id, c.AgentId, c.Title, c.UpdatedAt)).ToListAsync(t);
            if (conversationId is not { } openId)
            {
                return new ChatView(w.Org, agent, conversations, null, []);
            }
            var open = await mine.Where(c => c.Id == openId && c.AgentId == agentId)
                .Select(c => new ConversationSummary(c.Id, c.AgentId, c.Title, c.UpdatedAt)).FirstOrDefaultAsync(t)
                ?? throw new ChatNotFoundException("Conversation");
            var turns = await w.Db.ChatTurns.Where(m => m.ConversationId == openId).OrderBy(m => m.CreatedAt).ToListAsync(t);
            var orphaned = false;
            foreach (var turn in turns.Where(m => m.Status == TurnStatus.Streaming && (m.RunId is not { } run || !runs.IsLive(run))))
            {
                turn.Status = TurnStatus.Interrupted;
                turn.CompletedAt = clock.GetUtcNow();
                orphaned = true;
            }
            if (orphaned)
            {
                await w.Db.SaveChangesAsync(t);
            }
            var ids = turns.Select(m => m.Id).ToList();
            var steps = (await w.Db.ToolCalls.AsNoTracking().Where(c => ids.Contains(c.MessageId)).OrderBy(c => c.Sequence).ToListAsync(t))
                .ToLookup(c => c.MessageId);
            var sources = (await w.Db.TurnSources.AsNoTracking().Where(s => ids.Contains(s.MessageId)).OrderBy(s => s.Number).ToListAsync(t))
                .ToLookup(s => s.MessageId);
            var views = turns.Select(m => new TurnView(m.Id, m.Role, m.Content, m.Status, m.Error, m.ProviderLabel, m.RunId, m.ReplyToId,
                m.InputTokens, m.OutputTokens, m.CostUsd, m.CreatedAt,
                [.. steps[m.Id].Select(c => new ToolStep(c.Tool, c.ArgumentsRedacted, c.Reason, c.Outcome, c.ResultPreview, c.ResultChars, c.DurationMs))],
                [.. sources[m.Id].Select(s => new SourceView(s.Number, s.DocumentName, s.Page, s.HeadingPath))])).ToList();
            return new ChatView(w.Org, agent, conversations, open, views);
        }, ct);

    /// <summary>
    /// The passage a citation of one of the caller's own answers points to. Only the sources stored with that answer
    /// can be opened this way, so a chunk id alone opens nothing.
    /// </summary>
    public Task<PassageView> PassageAsync(Actor actor, OrgRef org, Guid messageId, int number, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "chat.source", async (w, t) =>
        {
            var source = await (from s in w.Db.TurnSources.AsNoTracking()
                                join m in w.Db.ChatTurns on s.MessageId equals m.Id
                                join c in w.Db.Conversations on m.ConversationId equals c.Id
                                where s.MessageId == messageId && s.Number == number && c.UserId == actor.UserId
                                select s).FirstOrDefaultAsync(t) ?? throw new ChatNotFoundException("Source");
            var text = await w.Db.KnowledgeChunks.AsNoTracking().Where(k => k.Id == source.ChunkId).Select(k => k.Text).FirstOrDefaultAsync(t);
            return new PassageView(source.Number, source.DocumentName, source.Page, source.HeadingPath, text);
        }, ct);

    public Task RenameAsync(Actor actor, OrgRef org, Guid conversationId, string title, CancellationToken ct)
    {
        var name = (title ?? "").Trim();
        if (name.Length == 0 || name.Length > 200)
        {
            throw new ChatRuleException("A conversation's name needs 1 to 200 characters.");
        }
        return operations.RunAsync(actor, org, OrgRole.Viewer, "chat.rename", async (w, t) =>
        {
            var conversation = await w.Db.Conversations.FirstOrDefaultAsync(c => c.Id == conversationId && c.UserId == actor.UserId, t)
                ?? throw new ChatNotFoundException("Conversation");
            conversation.Title = name;
            await w.Db.SaveChangesAsync(t);
        }, ct);
    }

    public Task DeleteAsync(Actor actor, OrgRef org, Guid conversationId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "chat.delete", async (w, t) =>
        {
            var removed = await w.Db.Conversations.Where(c => c.Id == conversationId && c.UserId == actor.UserId).ExecuteDeleteAsync(t);
            if (removed == 0)
            {
                throw new ChatNotFoundException("Conversation");
            }
            w.Audit(ChatAuditActions.ConversationDeleted, conversationId.ToString(), outcome: AuditOutcome.Success);
        }, ct);

    /// <summary>An agent by id or exact name, for the admin command.</summary>
    public Task<Guid?> FindAgentAsSystemAsync(Guid organizationId, string nameOrId, CancellationToken ct) =>
        operations.RunAsSystemAsync(organizationId, ChatCaller.AdminReason, async (w, t) =>
        {
            var byId = Guid.TryParse(nameOrId, out var id) ? id : Guid.Empty;
            return await w.Db.Agents.AsNoTracking().Where(a => a.Id == byId || a.Name == nameOrId).Select(a => (Guid?)a.Id).FirstOrDefaultAsync(t);
        }, ct);
}
