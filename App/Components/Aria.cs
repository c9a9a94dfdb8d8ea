namespace AgentSpace.Components;

public static class Aria
{
    /// <summary>Attributes for a component's inner element, e.g. MudTable's TableAttributes.</summary>
    public static Dictionary<string, object> Label(string label) => new(StringComparer.Ordinal) { ["aria-label"] = label };
}
