using AgentSpace.Agents;
using AgentSpace.Chat;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Limits;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Limits;

/// <summary>The app over its own database, with a short slow-down so the Slow tier is quick to observe.</summary>
public sealed class LimitsServices : AppServices
{
    public static readonly TimeSpan SlowDelay = TimeSpan.FromMilliseconds(15);

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Limits:SlowDelay"] = SlowDelay.ToString(),
    };
}

/// <summary>An organization as the limits see it: its owner, its id and its tenant schema.</summary>
public sealed record LimitsOrg(Actor Owner, OrgSummary Summary, TenantSchemaName Schema)
{
    public Guid Id => Summary.Id;
    public string Slug => Summary.Slug;
}

/// <summary>
/// Agents, conversations and turns written straight into the tenant schema (as the agents and chat services
/// would), and usage recorded through the cost guard.
/// </summary>
public static class LimitsData
{
    public static async Task<LimitsOrg> NewOrgAsync(this AppServices app)
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        var context = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default));
        return new LimitsOrg(owner, org, context.Schema);
    }

    public static async Task<Guid> AgentAsync(this AppServices app, LimitsOrg org, string? name = null,
        int? dailyLimit = null, decimal? runCap = null, decimal? monthlyBudget = null, DateTimeOffset? pausedAt = null, string? pausedReason = null)
    {
        var now = app.Clock.GetUtcNow();
        var agent = new Agent
        {
            Id = Guid.CreateVersion7(),
            Name = name ?? "Agent " + Guid.NewGuid().ToString("N")[..6],
            Colour = "#336699",
            DailyMessageLimit = dailyLimit,
            RunCostCapUsd = runCap,
            MonthlyBudgetUsd = monthlyBudget,
            PausedAt = pausedAt,
            PausedReason = pausedReason,
            CreatedBy = org.Owner.UserId,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
        {
            db.Agents.Add(agent);
            return Task.CompletedTask;
        }, default);
        return agent.Id;
    }

    public static async Task<Guid> ConversationAsync(this AppServices app, LimitsOrg org, Guid agentId, Guid userId, string title = "A conversation")
    {
        var now = app.Clock.GetUtcNow();
        var conversation = new Conversation { Id = Guid.CreateVersion7(), AgentId = agentId, UserId = userId, Title = title, CreatedAt = now, UpdatedAt = now };
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
        {
            db.Conversations.Add(conversation);
            return Task.CompletedTask;
        }, default);
        return conversation.Id;
    }

    /// <summary>Writes <paramref name="count"/> person-written turns (each with its answer) now.</summary>
    public static async Task UserTurnsAsync(this AppServices app, LimitsOrg org, Guid conversationId, int count)
    {
        var now = app.Clock.GetUtcNow();
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
        {
            for (var i = 0; i < count; i++)
            {
                var question = new ChatTurn { Id = Guid.CreateVersion7(), ConversationId = conversationId, Role = ChatRoles.User, Content = "Question", Status = TurnStatus.Complete, CreatedAt = now };
                db.ChatTurns.Add(question);
                db.ChatTurns.Add(new ChatTurn
                {
                    Id = Guid.CreateVersion7(), ConversationId = conversationId, Role = ChatRoles.Assistant, Content = "Answer",
                    Status = TurnStatus.Complete, ReplyToId = question.Id, CreatedAt = now,
                });
            }
            return Task.CompletedTask;
        }, default);
    }

    public static Task RecordAsync(this AppServices app, LimitsOrg org, Guid runId, Guid? agentId, decimal costUsd,
        string source = UsageSources.Chat, Guid? conversationId = null, Guid? userId = null, int input = 1000, int output = 500, Guid? reservationId = null) =>
        app.WithAsync<ICostGuard>(g => g.RecordAsync(org.Id,
            new UsageEntry(source, runId, agentId, conversationId, null, userId, "Recording", "test-model", input, output, costUsd, Estimated: false, reservationId), default));

    public static Task<SpendDecision> CheckCallAsync(this AppServices app, LimitsOrg org, Guid runId, Guid? agentId, decimal? cap, decimal projected) =>
        app.WithAsync<ICostGuard, SpendDecision>(g => g.CheckCallAsync(org.Id, new RunBudget(runId, agentId, cap), projected, default));

    /// <summary>The turn check in a unit of work of its own, as the system (the chat engine runs it in the unit that writes the turn).</summary>
    public static Task<TurnRefusal?> CheckTurnAsync(this AppServices app, LimitsOrg org, Guid agentId) =>
        CheckTurnAsync(app, org.Id, agentId);

    public static async Task<TurnRefusal?> CheckTurnAsync(this AppServices app, Guid organizationId, Guid agentId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var guard = scope.ServiceProvider.GetRequiredService<ICostGuard>();
        return await scope.ServiceProvider.GetRequiredService<TenantOperation>()
            .RunAsSystemAsync(organizationId, "test: turn check", (w, ct) => guard.CheckTurnAsync(w, agentId, ct), default);
    }

    /// <summary>Live reservations (calls in flight) in the organization.</summary>
    public static Task<int> ReservationsAsync(this AppServices app, LimitsOrg org) =>
        app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
            Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(db.Set<UsageReservation>(), ct), default);

    public static async Task<Agent> ReadAgentAsync(this AppServices app, LimitsOrg org, Guid agentId) =>
        await app.Get<TenantUnitOfWork>().RunAsync(org.Schema, (db, ct) =>
            Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.Agents, a => a.Id == agentId, ct), default);
}
