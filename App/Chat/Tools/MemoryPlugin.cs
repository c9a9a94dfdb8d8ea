using System.ComponentModel;
using System.Globalization;
using System.Text;
using AgentSpace.Agents;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.SemanticKernel;

namespace AgentSpace.Chat.Tools;

/// <summary>
/// The <c>memory</c> tool: facts an agent keeps between conversations (agent_memories), each call in its
/// own short unit of work. Facts come back to later prompts inside the untrusted-content envelope.
/// </summary>
public sealed class MemoryPlugin(ToolContext context, TimeProvider clock)
{
    public const string PluginName = "memory";
    /// <summary>An agent keeps at most this many facts; the oldest must be forgotten first.</summary>
    public const int MaxFacts = 200;
    public const int MaxFactLength = 2000;

    [KernelFunction("save")]
    [Description("Saves a fact to remember in later conversations with this agent. Returns the fact's id.")]
    public Task<string> SaveAsync([Description("The fact, one short sentence.")] string fact, CancellationToken cancellationToken = default)
    {
        var text = (fact ?? "").Trim();
        if (text.Length == 0)
        {
            return Task.FromResult("Nothing saved: the fact was empty.");
        }
        if (text.Length > MaxFactLength)
        {
            text = text[..MaxFactLength];
        }
        return context.Tenant.RunAsync(context.Caller, context.Org, OrgRole.Member, "memory.save", async (w, ct) =>
        {
            if (await w.Db.AgentMemories.CountAsync(m => m.AgentId == context.AgentId, ct) >= MaxFacts)
            {
                return $"Nothing saved: this agent already keeps {MaxFacts} facts. Forget some first.";
            }
            var memory = new AgentMemory
            {
                Id = Guid.CreateVersion7(),
                AgentId = context.AgentId,
                Fact = text,
                SourceMessageId = context.MessageId,
                CreatedBy = context.Caller.Person?.UserId,
                CreatedAt = clock.GetUtcNow(),
            };
            w.Db.AgentMemories.Add(memory);
            await w.Db.SaveChangesAsync(ct);
            return $"Saved as {memory.Id}.";
        }, cancellationToken);
    }

    [KernelFunction("recall")]
    [Description("Lists remembered facts, optionally only those containing the given words.")]
    public Task<string> RecallAsync([Description("Words to look for; empty for the most recent facts.")] string? query = null, CancellationToken cancellationToken = default) =>
        context.Tenant.RunAsync(context.Caller, context.Org, OrgRole.Member, "memory.recall", async (w, ct) =>
        {
            var facts = w.Db.AgentMemories.AsNoTracking().Where(m => m.AgentId == context.AgentId);
            if (!string.IsNullOrWhiteSpace(query))
            {
                var pattern = "%" + EscapeLike(query.Trim()) + "%";
                facts = facts.Where(m => EF.Functions.ILike(m.Fact, pattern, "\\"));
            }
            var found = await facts.OrderByDescending(m => m.CreatedAt).Take(20).ToListAsync(ct);
            if (found.Count == 0)
            {
                return "No remembered facts match.";
            }
            var text = new StringBuilder();
            foreach (var m in found)
            {
                text.Append(CultureInfo.InvariantCulture, $"{m.Id}: {m.Fact}\n");
            }
            return text.ToString();
        }, cancellationToken);

    [KernelFunction("forget")]
    [Description("Forgets a remembered fact by its id (as listed by recall).")]
    public Task<string> ForgetAsync([Description("The fact's id.")] string id, CancellationToken cancellationToken = default)
    {
        if (!Guid.TryParse(id, out var memoryId))
        {
            return Task.FromResult("Nothing forgotten: that is not a fact id.");
        }
        return context.Tenant.RunAsync(context.Caller, context.Org, OrgRole.Member, "memory.forget", async (w, ct) =>
        {
            var removed = await w.Db.AgentMemories.Where(m => m.Id == memoryId && m.AgentId == context.AgentId).ExecuteDeleteAsync(ct);
            return removed == 0 ? "No such fact." : "Forgotten.";
        }, cancellationToken);
    }

    internal static string EscapeLike(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
