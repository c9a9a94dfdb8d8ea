using System.ComponentModel;
using System.Text;
using AgentSpace.Knowledge;
using Microsoft.SemanticKernel;

namespace AgentSpace.Chat.Tools;

/// <summary>
/// The <c>knowledge_search</c> tool: hybrid retrieval over the documents attached to this agent (never others),
/// passages returned inside the untrusted-content envelope with their citation numbers.
/// </summary>
public sealed class KnowledgePlugin(ToolContext context, KnowledgeSearch search)
{
    public const string PluginName = "knowledge";
    public const int MaxHits = 5;

    public const string Description =
        "Searches the documents attached to this agent and returns the most relevant passages, each with a number. " +
        "Cite what you use with its number in square brackets, like [1].";

    [KernelFunction(AgentSpace.Agents.AgentTools.KnowledgeSearch)]
    [Description(Description)]
    public async Task<string> SearchAsync([Description("What to look for, in a few words or a question.")] string query, CancellationToken cancellationToken = default)
    {
        var text = (query ?? "").Trim();
        if (text.Length == 0)
        {
            return "Nothing searched: the query was empty.";
        }
        var hits = await search.SearchAsSystemAsync(context.Org.Id, text, KnowledgeScope.ForAgent(context.AgentId), MaxHits, cancellationToken);
        if (hits.Count == 0)
        {
            return "No passage of the documents attached to this agent matches that.";
        }
        var result = new StringBuilder();
        foreach (var hit in hits)
        {
            var number = context.Citations.Register(hit);
            result.Append(UntrustedContent.Wrap(TurnCitations.Label(number, hit), hit.Text)).Append('\n');
        }
        return result.ToString();
    }
}
