using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Knowledge;

/// <summary>
/// Which documents each agent may retrieve from (many to many). Admins attach and detach, everyone can see; both are
/// audited. An agent's retrieval joins on these rows inside the query, so a detached document is gone at once.
/// </summary>
public sealed class KnowledgeAttachments(TenantOperation operations, TimeProvider clock)
{
    public Task AttachAsync(Actor actor, OrgRef org, Guid agentId, Guid documentId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return operations.RunAsync(actor, org, OrgRole.Admin, "knowledge.attach", async (work, token) =>
        {
            var (agent, document) = await FindAsync(work, agentId, documentId, token);
            if (await work.Db.AgentDocuments.AnyAsync(a => a.AgentId == agentId && a.DocumentId == documentId, token))
            {
                return;
            }
            work.Db.AgentDocuments.Add(new AgentDocument { AgentId = agentId, DocumentId = documentId, AttachedBy = actor.UserId, AttachedAt = clock.GetUtcNow() });
            await work.Db.SaveChangesAsync(token);
            work.Audit(KnowledgeAuditActions.Attached, document, new Dictionary<string, string?>
            {
                ["agent"] = agent,
                ["agent_id"] = agentId.ToString(),
                ["document_id"] = documentId.ToString(),
            });
        }, ct);
    }

    public Task DetachAsync(Actor actor, OrgRef org, Guid agentId, Guid documentId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "knowledge.detach", async (work, token) =>
        {
            var (agent, document) = await FindAsync(work, agentId, documentId, token);
            var removed = await work.Db.AgentDocuments.Where(a => a.AgentId == agentId && a.DocumentId == documentId).ExecuteDeleteAsync(token);
            if (removed > 0)
            {
                work.Audit(KnowledgeAuditActions.Detached, document, new Dictionary<string, string?>
                {
                    ["agent"] = agent,
                    ["agent_id"] = agentId.ToString(),
                    ["document_id"] = documentId.ToString(),
                });
            }
        }, ct);

    public Task<IReadOnlyList<Guid>> DocumentsOfAgentAsync(Actor actor, OrgRef org, Guid agentId, CancellationToken ct) =>
        operations.RunAsync<IReadOnlyList<Guid>>(actor, org, OrgRole.Viewer, "knowledge.attachments", async (work, token) =>
            await work.Db.AgentDocuments.AsNoTracking().Where(a => a.AgentId == agentId).Select(a => a.DocumentId).ToListAsync(token), ct);

    public Task<IReadOnlyList<Guid>> AgentsOfDocumentAsync(Actor actor, OrgRef org, Guid documentId, CancellationToken ct) =>
        operations.RunAsync<IReadOnlyList<Guid>>(actor, org, OrgRole.Viewer, "knowledge.attachments", async (work, token) =>
            await work.Db.AgentDocuments.AsNoTracking().Where(a => a.DocumentId == documentId).Select(a => a.AgentId).ToListAsync(token), ct);

    private static async Task<(string Agent, string Document)> FindAsync(TenantWork work, Guid agentId, Guid documentId, CancellationToken ct)
    {
        var agent = await work.Db.Agents.AsNoTracking().Where(a => a.Id == agentId).Select(a => a.Name).FirstOrDefaultAsync(ct)
            ?? throw new Agents.AgentNotFoundException();
        var document = await work.Db.KnowledgeDocuments.AsNoTracking().Where(d => d.Id == documentId).Select(d => d.Name).FirstOrDefaultAsync(ct)
            ?? throw new KnowledgeNotFoundException();
        return (agent, document);
    }
}
