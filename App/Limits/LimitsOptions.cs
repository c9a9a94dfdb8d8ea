namespace AgentSpace.Limits;

/// <summary>Settings under <c>Limits</c>.</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    /// <summary>The pause between tool-loop steps once a run has used 80% of its cost cap.</summary>
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(2);
}
