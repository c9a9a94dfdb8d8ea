using AgentSpace.Agents;
using AgentSpace.Knowledge;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;

namespace AgentSpace.Chat.Tools;

/// <summary>
/// The tools an agent is given for one turn: its enabled Semantic Kernel plugins, offered to the model as
/// <see cref="AIFunction"/>s. The engine invokes them itself (no automatic invocation), so the cost guard
/// runs before every model call and every call is audited.
/// </summary>
public sealed class AgentToolbox
{
    private readonly Dictionary<string, AIFunction> _functions;

    private AgentToolbox(Dictionary<string, AIFunction> functions) => _functions = functions;

    public IReadOnlyList<AITool> Tools => [.. _functions.Values];

    public static AgentToolbox For(IReadOnlyCollection<string> enabled, ToolContext context, TimeProvider clock, KnowledgeSearch knowledge)
    {
        ArgumentNullException.ThrowIfNull(enabled);
        var kernel = new Kernel();
        var functions = new Dictionary<string, AIFunction>(StringComparer.Ordinal);
        if (enabled.Contains(AgentTools.Memory))
        {
            Add(KernelPluginFactory.CreateFromObject(new MemoryPlugin(context, clock), MemoryPlugin.PluginName));
        }
        if (enabled.Contains(AgentTools.CurrentTime))
        {
            // Offered under its agent-page name, current_time, rather than the plugin-qualified one.
            foreach (var ai in KernelPluginFactory.CreateFromObject(new TimePlugin(clock), TimePlugin.PluginName).AsAIFunctions(kernel))
            {
                var named = new NamedFunction(ai, AgentTools.CurrentTime);
                functions[named.Name] = named;
            }
        }
        if (enabled.Contains(AgentTools.KnowledgeSearch))
        {
            foreach (var ai in KernelPluginFactory.CreateFromObject(new KnowledgePlugin(context, knowledge), KnowledgePlugin.PluginName).AsAIFunctions(kernel))
            {
                var named = new NamedFunction(ai, AgentTools.KnowledgeSearch);
                functions[named.Name] = named;
            }
        }
        return new AgentToolbox(functions);

        void Add(KernelPlugin plugin)
        {
            foreach (var ai in plugin.AsAIFunctions(kernel))
            {
                functions[ai.Name] = ai;
            }
        }
    }

    public AIFunction? Find(string name) => _functions.GetValueOrDefault(name);
}

/// <summary>A tool offered under a name of our choosing.</summary>
internal sealed class NamedFunction(AIFunction inner, string name) : DelegatingAIFunction(inner)
{
    public override string Name => name;
}
