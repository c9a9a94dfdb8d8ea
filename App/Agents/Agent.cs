using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace AgentSpace.Agents;

/// <summary>A configured assistant: instructions, model, enabled tools and limits.</summary>
public sealed class Agent
{
    public required Guid Id { get; init; }
    public required string Name { get; set; }
    /// <summary><c>#rrggbb</c>.</summary>
    public required string Colour { get; set; }
    public string Description { get; set; } = "";
    public string Instructions { get; set; } = "";
    /// <summary>Null: the built-in offline provider.</summary>
    public Guid? ProviderId { get; set; }
    public string? Model { get; set; }
    public double Temperature { get; set; } = 0.7;
    /// <summary>Tool names enabled for this agent (<see cref="AgentTools"/>).</summary>
    public List<string> Tools { get; set; } = [];
    public int? DailyMessageLimit { get; set; }
    public decimal? RunCostCapUsd { get; set; }
    public decimal? MonthlyBudgetUsd { get; set; }
    public DateTimeOffset? PausedAt { get; set; }
    public string? PausedReason { get; set; }
    public required Guid CreatedBy { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>The tools an agent can be given.</summary>
public static class AgentTools
{
    public const string Memory = "memory";
    public const string CurrentTime = "current_time";
    public const string KnowledgeSearch = "knowledge_search";
}

/// <summary>A fact an agent keeps between conversations; visible and deletable on the agent page.</summary>
public sealed class AgentMemory
{
    public required Guid Id { get; init; }
    public required Guid AgentId { get; init; }
    public required string Fact { get; init; }
    public Guid? SourceMessageId { get; init; }
    public Guid? CreatedBy { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

internal sealed class AgentConfiguration : IEntityTypeConfiguration<Agent>
{
    public void Configure(EntityTypeBuilder<Agent> builder)
    {
        builder.ToTable("agents");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Name).HasMaxLength(100);
        builder.HasIndex(a => a.Name).IsUnique();
        builder.Property(a => a.Colour).HasMaxLength(7);
        builder.Property(a => a.Description).HasMaxLength(1000);
        builder.Property(a => a.Instructions).HasMaxLength(20000);
        builder.Property(a => a.Model).HasMaxLength(200);
        builder.Property(a => a.Tools).HasColumnType("text[]");
        builder.Property(a => a.RunCostCapUsd).HasPrecision(18, 6);
        builder.Property(a => a.MonthlyBudgetUsd).HasPrecision(18, 6);
        builder.Property(a => a.PausedReason).HasMaxLength(400);
        builder.HasOne<Providers.ModelProvider>().WithMany().HasForeignKey(a => a.ProviderId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class AgentMemoryConfiguration : IEntityTypeConfiguration<AgentMemory>
{
    public void Configure(EntityTypeBuilder<AgentMemory> builder)
    {
        builder.ToTable("agent_memories");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Fact).HasMaxLength(2000);
        builder.HasOne<Agent>().WithMany().HasForeignKey(m => m.AgentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(m => new { m.AgentId, m.CreatedAt });
    }
}
