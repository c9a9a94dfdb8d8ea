using System.ComponentModel;
using System.Globalization;
using Microsoft.SemanticKernel;

namespace AgentSpace.Chat.Tools;

/// <summary>The <c>current_time</c> tool.</summary>
public sealed class TimePlugin(TimeProvider clock)
{
    public const string PluginName = "clock";

    public const string Description = "The current date and time in UTC (ISO 8601).";

    [KernelFunction(AgentSpace.Agents.AgentTools.CurrentTime)]
    [Description(Description)]
    public string CurrentTime() => clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
