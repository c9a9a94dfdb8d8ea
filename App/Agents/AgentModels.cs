using AgentSpace.Tenancy;

namespace AgentSpace.Agents;

/// <summary>What an Admin enters for an agent. Mutable so a form can bind to it; the service validates every field.</summary>
public sealed record AgentInput
{
    public string? Name { get; set; }
    public string? Colour { get; set; }
    public string? Description { get; set; }
    public string? Instructions { get; set; }
    /// <summary>Null: the built-in offline provider.</summary>
    public Guid? ProviderId { get; set; }
    public string? Model { get; set; }
    public double Temperature { get; set; } = 0.7;
    public IReadOnlyList<string> Tools { get; set; } = [];
    public int? DailyMessageLimit { get; set; }
    public decimal? RunCostCapUsd { get; set; }
    public decimal? MonthlyBudgetUsd { get; set; }
}

/// <summary>One agent in the list (without its instructions).</summary>
public sealed record AgentRow(
    Guid Id,
    string Name,
    string Colour,
    string Description,
    string ModelLabel,
    DateTimeOffset? PausedAt,
    string? PausedReason)
{
    public bool Paused => PausedAt is not null;
}

public sealed record AgentList(OrgContext Org, IReadOnlyList<AgentRow> Agents);

/// <summary>An agent as its page shows it.</summary>
public sealed record AgentView(
    Guid Id,
    string Name,
    string Colour,
    string Description,
    string Instructions,
    Guid? ProviderId,
    string? Model,
    string ModelLabel,
    double Temperature,
    IReadOnlyList<string> Tools,
    int? DailyMessageLimit,
    decimal? RunCostCapUsd,
    decimal? MonthlyBudgetUsd,
    DateTimeOffset? PausedAt,
    string? PausedReason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public bool Paused => PausedAt is not null;

    /// <summary>The agent's fields as an editable form.</summary>
    public AgentInput ToInput() => new()
    {
        Name = Name,
        Colour = Colour,
        Description = Description,
        Instructions = Instructions,
        ProviderId = ProviderId,
        Model = Model,
        Temperature = Temperature,
        Tools = [.. Tools],
        DailyMessageLimit = DailyMessageLimit,
        RunCostCapUsd = RunCostCapUsd,
        MonthlyBudgetUsd = MonthlyBudgetUsd,
    };
}

/// <summary>A provider the agent can use and the models it offers; <see cref="ProviderId"/> null is the offline provider.</summary>
public sealed record ProviderChoice(Guid? ProviderId, string Label, IReadOnlyList<string> Models);

/// <summary>A fact an agent keeps.</summary>
public sealed record MemoryRow(Guid Id, string Fact, DateTimeOffset CreatedAt);

/// <summary>The providers an agent can be given, for the editor.</summary>
public sealed record ModelChoices(OrgContext Org, IReadOnlyList<ProviderChoice> Providers);

/// <summary>Everything the agent page shows. <see cref="Memories"/> is null for a Viewer (Members and up read them).</summary>
public sealed record AgentDetails(OrgContext Org, AgentView Agent, IReadOnlyList<ProviderChoice> Providers, IReadOnlyList<MemoryRow>? Memories);
