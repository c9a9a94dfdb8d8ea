using System.Globalization;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace AgentSpace.Agents;

/// <summary>
/// Agents and their memories. Viewers read agents, Members also read memories, Admins manage both. Every
/// call goes through <see cref="TenantOperation"/>; every change is audited in the same transaction.
/// </summary>
public sealed class AgentService(TenantOperation operations, TimeProvider clock)
{
    /// <summary>How the built-in provider is named in the picker.</summary>
    public const string OfflineChoiceLabel = "Offline (built in)";

    /// <summary>How the built-in provider is named wherever an agent's model is shown.</summary>
    public const string OfflineLabel = "Offline";

    /// <summary>The newest memories the agent page lists.</summary>
    public const int MaxMemoriesShown = 500;

    public Task<AgentList> ListAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "agents.list", async (work, token) =>
        {
            var names = await ProviderNamesAsync(work.Db, token);
            var agents = await work.Db.Agents.AsNoTracking().OrderBy(a => a.Name).ToListAsync(token);
            return new AgentList(work.Org, [.. agents.Select(a => new AgentRow(a.Id, a.Name, a.Colour, a.Description, ModelLabel(a, names), a.PausedAt, a.PausedReason))]);
        }, ct);

    /// <summary>The agent, the providers it could use, and (for Members and up) its memories.</summary>
    public Task<AgentDetails> GetAsync(Actor actor, OrgRef org, Guid agentId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "agents.read", async (work, token) =>
        {
            var agent = await work.Db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new AgentNotFoundException();
            var choices = await ModelChoicesAsync(work.Db, token);
            var memories = work.Org.Can(OrgRole.Member) ? await MemoriesAsync(work.Db, agentId, token) : null;
            return new AgentDetails(work.Org, View(agent, choices), choices, memories);
        }, ct);

    /// <summary>The providers and models an agent can be given (the offline provider first).</summary>
    public Task<ModelChoices> ListModelChoicesAsync(Actor actor, OrgRef org, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Viewer, "agents.model_choices", async (work, token) =>
            new ModelChoices(work.Org, await ModelChoicesAsync(work.Db, token)), ct);

    public Task<AgentView> CreateAsync(Actor actor, OrgRef org, AgentInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(input);
        return operations.RunAsync(actor, org, OrgRole.Admin, "agents.create", async (work, token) =>
        {
            var values = await ValidateAsync(work.Db, input, null, token);
            var now = clock.GetUtcNow();
            var agent = new Agent
            {
                Id = Guid.CreateVersion7(now),
                Name = values.Name!,
                Colour = values.Colour!,
                CreatedBy = actor.UserId,
                CreatedAt = now,
                UpdatedAt = now,
            };
            Apply(agent, values);
            work.Db.Agents.Add(agent);
            await SaveAsync(work.Db, token);
            var choices = await ModelChoicesAsync(work.Db, token);
            var view = View(agent, choices);
            work.Audit(AgentsAuditActions.Created, agent.Id.ToString(), new Dictionary<string, string?>
            {
                ["name"] = agent.Name,
                ["model"] = view.ModelLabel,
                ["tools"] = string.Join(",", agent.Tools),
            });
            return view;
        }, ct);
    }

    public Task<AgentView> UpdateAsync(Actor actor, OrgRef org, Guid agentId, AgentInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        return operations.RunAsync(actor, org, OrgRole.Admin, "agents.update", async (work, token) =>
        {
            var agent = await work.Db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new AgentNotFoundException();
            var values = await ValidateAsync(work.Db, input, agentId, token);
            var previousName = agent.Name;
            var changed = Changes(agent, values);
            if (changed.Count > 0)
            {
                Apply(agent, values);
                agent.UpdatedAt = clock.GetUtcNow();
                await SaveAsync(work.Db, token);
                var details = new Dictionary<string, string?>
                {
                    ["name"] = agent.Name,
                    // Field names only: instructions can be long and are the Admin's prose, not an audit record.
                    ["changed"] = string.Join(",", changed),
                };
                if (previousName != agent.Name)
                {
                    details["previous_name"] = previousName;
                }
                work.Audit(AgentsAuditActions.Updated, agent.Id.ToString(), details);
            }
            return View(agent, await ModelChoicesAsync(work.Db, token));
        }, ct);
    }

    /// <summary>A copy named "Copy of X" (or "Copy of X (2)"...), not paused, without the original's memories.</summary>
    public Task<AgentView> DuplicateAsync(Actor actor, OrgRef org, Guid agentId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return operations.RunAsync(actor, org, OrgRole.Admin, "agents.duplicate", async (work, token) =>
        {
            var source = await work.Db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new AgentNotFoundException();
            var names = (await work.Db.Agents.Select(a => a.Name).ToListAsync(token)).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var now = clock.GetUtcNow();
            var copy = new Agent
            {
                Id = Guid.CreateVersion7(now),
                Name = CopyName(source.Name, names),
                Colour = source.Colour,
                Description = source.Description,
                Instructions = source.Instructions,
                ProviderId = source.ProviderId,
                Model = source.Model,
                Temperature = source.Temperature,
                Tools = [.. source.Tools],
                DailyMessageLimit = source.DailyMessageLimit,
                RunCostCapUsd = source.RunCostCapUsd,
                MonthlyBudgetUsd = source.MonthlyBudgetUsd,
                CreatedBy = actor.UserId,
                CreatedAt = now,
                UpdatedAt = now,
            };
            work.Db.Agents.Add(copy);
            await SaveAsync(work.Db, token);
            work.Audit(AgentsAuditActions.Duplicated, copy.Id.ToString(), new Dictionary<string, string?>
            {
                ["name"] = copy.Name,
                ["source_id"] = source.Id.ToString(),
                ["source_name"] = source.Name,
            });
            return View(copy, await ModelChoicesAsync(work.Db, token));
        }, ct);
    }

    /// <summary>A paused agent answers nothing until it is resumed.</summary>
    public Task PauseAsync(Actor actor, OrgRef org, Guid agentId, string? reason, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "agents.pause", async (work, token) =>
        {
            var agent = await work.Db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new AgentNotFoundException();
            if (AgentValidation.PauseReason(reason) is { } problem)
            {
                throw new OrgRuleException(problem);
            }
            if (agent.PausedAt is not null)
            {
                throw new OrgRuleException($"{agent.Name} is already paused.");
            }
            var now = clock.GetUtcNow();
            agent.PausedAt = now;
            agent.PausedReason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
            agent.UpdatedAt = now;
            work.Audit(AgentsAuditActions.Paused, agent.Id.ToString(), new Dictionary<string, string?>
            {
                ["name"] = agent.Name,
                ["reason"] = agent.PausedReason,
            });
        }, ct);

    public Task ResumeAsync(Actor actor, OrgRef org, Guid agentId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "agents.resume", async (work, token) =>
        {
            var agent = await work.Db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new AgentNotFoundException();
            if (agent.PausedAt is null)
            {
                throw new OrgRuleException($"{agent.Name} is not paused.");
            }
            var details = new Dictionary<string, string?>
            {
                ["name"] = agent.Name,
                ["paused_reason"] = agent.PausedReason,
                ["paused_at"] = agent.PausedAt.Value.ToString("O", CultureInfo.InvariantCulture),
            };
            agent.PausedAt = null;
            agent.PausedReason = null;
            agent.UpdatedAt = clock.GetUtcNow();
            work.Audit(AgentsAuditActions.Resumed, agent.Id.ToString(), details);
        }, ct);

    /// <summary>Deletes the agent; its conversations (with their turns) and memories go with it (the database cascades).</summary>
    public Task DeleteAsync(Actor actor, OrgRef org, Guid agentId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "agents.delete", async (work, token) =>
        {
            var agent = await work.Db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, token) ?? throw new AgentNotFoundException();
            var conversations = await work.Db.Conversations.CountAsync(c => c.AgentId == agentId, token);
            var memories = await work.Db.AgentMemories.CountAsync(m => m.AgentId == agentId, token);
            work.Db.Agents.Remove(agent);
            await work.Db.SaveChangesAsync(token);
            work.Audit(AgentsAuditActions.Deleted, agent.Id.ToString(), new Dictionary<string, string?>
            {
                ["name"] = agent.Name,
                ["conversations"] = conversations.ToString(CultureInfo.InvariantCulture),
                ["memories"] = memories.ToString(CultureInfo.InvariantCulture),
            });
        }, ct);

    /// <summary>The agent's memories, newest first (Members and up: they chat with it and it remembers for them).</summary>
    public Task<IReadOnlyList<MemoryRow>> ListMemoriesAsync(Actor actor, OrgRef org, Guid agentId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Member, "agents.memories.list", async (work, token) =>
        {
            if (!await work.Db.Agents.AnyAsync(a => a.Id == agentId, token))
            {
                throw new AgentNotFoundException();
            }
            return await MemoriesAsync(work.Db, agentId, token);
        }, ct);

    /// <summary>
    /// An Admin gives the agent a fact to keep (what the memory tool would save), so even an Offline agent has
    /// something to answer from. Same bounds as the tool: at most <see cref="Chat.Tools.MemoryPlugin.MaxFacts"/>
    /// facts of <see cref="Chat.Tools.MemoryPlugin.MaxFactLength"/> characters.
    /// </summary>
    public Task AddMemoryAsync(Actor actor, OrgRef org, Guid agentId, string fact, CancellationToken ct)
    {
        var text = (fact ?? "").Trim();
        if (text.Length == 0)
        {
            throw new AgentValidationException(new Dictionary<string, string> { ["Fact"] = "Write the fact to remember." });
        }
        if (text.Length > Chat.Tools.MemoryPlugin.MaxFactLength)
        {
            throw new AgentValidationException(new Dictionary<string, string> { ["Fact"] = $"A memory can be at most {Chat.Tools.MemoryPlugin.MaxFactLength:N0} characters." });
        }
        return operations.RunAsync(actor, org, OrgRole.Admin, "agents.memories.add", async (work, token) =>
        {
            var agent = await work.Db.Agents.AsNoTracking().Where(a => a.Id == agentId).Select(a => new { a.Id, a.Name }).FirstOrDefaultAsync(token)
                ?? throw new AgentNotFoundException();
            if (await work.Db.AgentMemories.CountAsync(m => m.AgentId == agentId, token) >= Chat.Tools.MemoryPlugin.MaxFacts)
            {
                throw new AgentValidationException(new Dictionary<string, string> { ["Fact"] = $"{agent.Name} already keeps {Chat.Tools.MemoryPlugin.MaxFacts} facts. Delete some first." });
            }
            var memory = new AgentMemory { Id = Guid.NewGuid(), AgentId = agentId, Fact = text, CreatedBy = actor.UserId, CreatedAt = clock.GetUtcNow() };
            work.Db.AgentMemories.Add(memory);
            work.Audit(AgentsAuditActions.MemoryAdded, memory.Id.ToString(), new Dictionary<string, string?>
            {
                ["agent_id"] = agent.Id.ToString(),
                ["agent_name"] = agent.Name,
                ["fact_chars"] = text.Length.ToString(CultureInfo.InvariantCulture),
            });
        }, ct);
    }

    public Task DeleteMemoryAsync(Actor actor, OrgRef org, Guid agentId, Guid memoryId, CancellationToken ct) =>
        operations.RunAsync(actor, org, OrgRole.Admin, "agents.memories.delete", async (work, token) =>
        {
            var agent = await work.Db.Agents.AsNoTracking().Where(a => a.Id == agentId).Select(a => new { a.Id, a.Name }).FirstOrDefaultAsync(token)
                ?? throw new AgentNotFoundException();
            var memory = await work.Db.AgentMemories.FirstOrDefaultAsync(m => m.Id == memoryId && m.AgentId == agentId, token)
                ?? throw new AgentMemoryNotFoundException();
            work.Db.AgentMemories.Remove(memory);
            // The fact itself stays out of the append-only log: it may be something a person asked to be forgotten.
            work.Audit(AgentsAuditActions.MemoryDeleted, memory.Id.ToString(), new Dictionary<string, string?>
            {
                ["agent_id"] = agent.Id.ToString(),
                ["agent_name"] = agent.Name,
                ["fact_chars"] = memory.Fact.Length.ToString(CultureInfo.InvariantCulture),
            });
        }, ct);

    /// <summary>
    /// The agent a chat turn runs with, read inside the caller's own tenant operation. Not-found for an id that
    /// is not in this organization. The caller checks <see cref="Agent.PausedAt"/> (a paused agent answers nothing).
    /// </summary>
    public static async Task<Agent> LoadForTurnAsync(TenantWork work, Guid agentId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        return await work.Db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, ct) ?? throw new AgentNotFoundException();
    }

    /// <summary>Checks every field (those that need the database too) and returns the values to store.</summary>
    private static async Task<AgentInput> ValidateAsync(TenantDbContext db, AgentInput input, Guid? agentId, CancellationToken ct)
    {
        var errors = AgentValidation.Check(input);
        var values = input with
        {
            Name = input.Name?.Trim(),
            Colour = input.Colour?.Trim().ToLowerInvariant(),
            Description = input.Description?.Trim() ?? "",
            Instructions = input.Instructions ?? "",
            Model = string.IsNullOrWhiteSpace(input.Model) ? null : input.Model.Trim(),
            Tools = [.. (input.Tools ?? []).Distinct(StringComparer.Ordinal)],
        };
        if (!errors.ContainsKey(nameof(AgentInput.Name)))
        {
            // An organization has tens of agents, not thousands: compared here, the same way the copy names are.
            var others = await db.Agents.Where(a => a.Id != agentId).Select(a => a.Name).ToListAsync(ct);
            if (others.Contains(values.Name!, StringComparer.OrdinalIgnoreCase))
            {
                errors[nameof(AgentInput.Name)] = NameTaken;
            }
        }
        if (values.ProviderId is { } providerId)
        {
            // Each organization's providers live in its own schema: another organization's id is not found here.
            var provider = await db.ModelProviders.AsNoTracking().Include(p => p.Models).FirstOrDefaultAsync(p => p.Id == providerId, ct);
            if (provider is null)
            {
                errors[nameof(AgentInput.ProviderId)] = "Choose a provider from the list.";
            }
            else if (values.Model is null)
            {
                errors[nameof(AgentInput.Model)] = "Choose a model.";
            }
            else if (!provider.Models.Any(m => m.ModelId == values.Model))
            {
                errors[nameof(AgentInput.Model)] = $"{provider.Name} does not offer this model. Choose one from the list.";
            }
        }
        else
        {
            values.Model = null;
        }
        if (errors.Count > 0)
        {
            throw new AgentValidationException(errors);
        }
        return values;
    }

    private const string NameTaken = "Another agent already has this name.";

    /// <summary>Saves, turning a name taken by a concurrent save into the same field error as the check above.</summary>
    private static async Task SaveAsync(TenantDbContext db, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new AgentValidationException(new Dictionary<string, string> { [nameof(AgentInput.Name)] = NameTaken });
        }
    }

    private static void Apply(Agent agent, AgentInput values)
    {
        agent.Name = values.Name!;
        agent.Colour = values.Colour!;
        agent.Description = values.Description!;
        agent.Instructions = values.Instructions!;
        agent.ProviderId = values.ProviderId;
        agent.Model = values.Model;
        agent.Temperature = values.Temperature;
        agent.Tools = [.. values.Tools];
        agent.DailyMessageLimit = values.DailyMessageLimit;
        agent.RunCostCapUsd = values.RunCostCapUsd;
        agent.MonthlyBudgetUsd = values.MonthlyBudgetUsd;
    }

    /// <summary>The names of the fields that <paramref name="values"/> would change, in form order.</summary>
    private static List<string> Changes(Agent agent, AgentInput values)
    {
        var changed = new List<string>();
        void Check(bool differs, string field)
        {
            if (differs)
            {
                changed.Add(field);
            }
        }
        Check(agent.Name != values.Name, "name");
        Check(agent.Colour != values.Colour, "colour");
        Check(agent.Description != values.Description, "description");
        Check(agent.Instructions != values.Instructions, "instructions");
        Check(agent.ProviderId != values.ProviderId, "provider");
        Check(agent.Model != values.Model, "model");
        Check(!agent.Temperature.Equals(values.Temperature), "temperature");
        Check(!agent.Tools.Order(StringComparer.Ordinal).SequenceEqual(values.Tools.Order(StringComparer.Ordinal)), "tools");
        Check(agent.DailyMessageLimit != values.DailyMessageLimit, "daily_message_limit");
        Check(agent.RunCostCapUsd != values.RunCostCapUsd, "run_cost_cap_usd");
        Check(agent.MonthlyBudgetUsd != values.MonthlyBudgetUsd, "monthly_budget_usd");
        return changed;
    }

    /// <summary>"Copy of X", or the first free "Copy of X (n)", within the name length.</summary>
    internal static string CopyName(string source, IReadOnlySet<string> taken)
    {
        for (var n = 1; ; n++)
        {
            var suffix = n == 1 ? "" : $" ({n})";
            var room = AgentValidation.MaxNameLength - "Copy of ".Length - suffix.Length;
            var name = "Copy of " + (source.Length > room ? source[..room].TrimEnd() : source) + suffix;
            if (!taken.Contains(name))
            {
                return name;
            }
        }
    }

    private static Task<Dictionary<Guid, string>> ProviderNamesAsync(TenantDbContext db, CancellationToken ct) =>
        db.ModelProviders.AsNoTracking().ToDictionaryAsync(p => p.Id, p => p.Name, ct);

    private static async Task<IReadOnlyList<ProviderChoice>> ModelChoicesAsync(TenantDbContext db, CancellationToken ct)
    {
        var providers = await db.ModelProviders.AsNoTracking().Include(p => p.Models).OrderBy(p => p.Name).ToListAsync(ct);
        return
        [
            new ProviderChoice(null, OfflineChoiceLabel, []),
            .. providers.Select(p => new ProviderChoice(p.Id, p.Name, [.. p.Models.Select(m => m.ModelId).Order(StringComparer.Ordinal)])),
        ];
    }

    private static async Task<IReadOnlyList<MemoryRow>> MemoriesAsync(TenantDbContext db, Guid agentId, CancellationToken ct) =>
        await db.AgentMemories.AsNoTracking().Where(m => m.AgentId == agentId)
            .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id)
            .Take(MaxMemoriesShown)
            .Select(m => new MemoryRow(m.Id, m.Fact, m.CreatedAt))
            .ToListAsync(ct);

    private static string ModelLabel(Agent agent, IReadOnlyDictionary<Guid, string> providerNames) =>
        agent.ProviderId is { } id
            ? $"{(providerNames.TryGetValue(id, out var name) ? name : "Unknown provider")} · {agent.Model}"
            : OfflineLabel;

    private static AgentView View(Agent agent, IReadOnlyList<ProviderChoice> choices)
    {
        var names = choices.Where(c => c.ProviderId is not null).ToDictionary(c => c.ProviderId!.Value, c => c.Label);
        return new AgentView(agent.Id, agent.Name, agent.Colour, agent.Description, agent.Instructions, agent.ProviderId, agent.Model,
            ModelLabel(agent, names), agent.Temperature, [.. agent.Tools], agent.DailyMessageLimit, agent.RunCostCapUsd, agent.MonthlyBudgetUsd,
            agent.PausedAt, agent.PausedReason, agent.CreatedAt, agent.UpdatedAt);
    }
}
