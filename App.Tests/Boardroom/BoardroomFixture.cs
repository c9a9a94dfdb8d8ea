using System.Text;
using AgentSpace.Agents;
using AgentSpace.Boardroom;
using AgentSpace.Knowledge;
using AgentSpace.Tests.Chat;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Boardroom;

/// <summary>
/// The boardroom with the app's own cost guard, the recording model server behind every provider agent, and documents
/// processed by the test itself. Each agent's instructions carry a key, so the server's script can answer per agent.
/// </summary>
public class BoardroomFixture : ChatFixture
{
    protected override bool UseAppCostGuard => true;

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Knowledge:BackgroundProcessing"] = "false",
        ["Limits:SlowDelay"] = "00:00:00.010",
    };

    public BoardroomService Boardroom => Get<BoardroomService>();

    public LiveBoardrooms Live => Services.GetRequiredService<LiveBoardrooms>();

    /// <summary>An agent whose instructions hold <c>key: {key}</c>, answering through the recording server (or offline).</summary>
    public async Task<Agent> SeatAsync(TestOrg org, string name, string key, bool offline = false)
    {
        ArgumentNullException.ThrowIfNull(org);
        return await CreateAgentAsync(org.Org, $"You are {name}. key: {key}", offline: offline, name: name + "-" + Guid.NewGuid().ToString("N")[..4]);
    }

    /// <summary>Starts a session as <paramref name="org"/>'s member and waits for its run to end here.</summary>
    public async Task<SessionView> RunAsync(TestOrg org, SessionInput input, TimeSpan? limit = null)
    {
        ArgumentNullException.ThrowIfNull(org);
        var id = await Boardroom.StartAsync(org.Member, org.Org.Slug, input, default);
        await WaitAsync(id, limit);
        return await Boardroom.OpenAsync(org.Member, org.Org.Slug, id, default);
    }

    public async Task WaitAsync(Guid sessionId, TimeSpan? limit = null)
    {
        if (Live.Find(sessionId) is { } running)
        {
            await running.Ended.WaitAsync(limit ?? TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>A ready document with <paramref name="text"/>, uploaded by the owner and processed.</summary>
    public async Task<Guid> ReadyDocumentAsync(TestOrg org, string name, string text)
    {
        ArgumentNullException.ThrowIfNull(org);
        await using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var uploaded = await WithAsync<KnowledgeService, UploadResult>(s => s.UploadAsync(org.Owner, org.Org.Slug, name, stream, default));
        await WithAsync<KnowledgeProcessor, int>(p => p.RunPendingAsync(org.Org.Id, default));
        return uploaded.DocumentId;
    }

    public Task AttachAsync(TestOrg org, Guid agentId, Guid documentId) =>
        WithAsync<KnowledgeAttachments>(a => a.AttachAsync(org!.Owner, org.Org.Slug, agentId, documentId, default));

    public Task<List<DecisionRecord>> RecordsAsync(TestOrg org, Guid sessionId) =>
        InTenantAsync(org!.Org, db => db.DecisionRecords.AsNoTracking().Where(r => r.SessionId == sessionId).OrderBy(r => r.Version).ToListAsync());
}
