using System.Globalization;
using System.Text.Json;
using AgentSpace.Admin;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Knowledge;

/// <summary><c>App knowledge search &lt;org&gt; "&lt;query&gt;" [--agent A] [--json] [--limit N]</c>: the fused hits with both scores.</summary>
internal static class KnowledgeSearchCommand
{
    public static IServiceCollection AddKnowledgeSearchCommand(this IServiceCollection services) =>
        services.AddAdminCommand(new AdminCommand("knowledge search", "<org-slug> \"<query>\" [--agent <agent-name-or-id>] [--json] [--limit N]",
            "Search an organization's documents as an agent (or all of them) would, showing both scores.",
            "Runs the same hybrid retrieval as the knowledge_search tool: vector and full-text, fused by reciprocal\n" +
            "rank. With --agent, only that agent's attached documents; without, every ready document. Prints rank,\n" +
            "fused score, vector score and rank, text score and rank, the document and position, and the passage's\n" +
            "start; --json prints the hits as JSON. Runs as the system actor; nothing is written.",
            SearchAsync));

    private static async Task<int> SearchAsync(AdminInvocation run)
    {
        var positional = new List<string>();
        for (var i = 0; i < run.Args.Count; i++)
        {
            if (run.Args[i] is "--agent" or "--limit")
            {
                i++;
            }
            else if (!run.Args[i].StartsWith("--", StringComparison.Ordinal))
            {
                positional.Add(run.Args[i]);
            }
        }
        if (positional.Count != 2)
        {
            return await run.UsageErrorAsync("knowledge search needs <org-slug> \"<query>\".");
        }
        var limit = 10;
        if (run.Option("--limit") is { } limitText && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 50))
        {
            return await run.UsageErrorAsync("--limit takes a number from 1 to 50.");
        }
        var (slug, query) = (positional[0], positional[1]);
        if (await KnowledgeImportCommand.OrganizationIdAsync(run, slug) is not { } organizationId)
        {
            return await run.FailAsync($"no organization '{slug}'.");
        }
        var scope = KnowledgeScope.AllDocuments;
        if (run.Option("--agent") is { } agentName)
        {
            if (await run.Get<Chat.ChatService>().FindAgentAsSystemAsync(organizationId, agentName, run.Cancellation) is not { } agentId)
            {
                return await run.FailAsync($"no agent '{agentName}' in {slug}.");
            }
            scope = KnowledgeScope.ForAgent(agentId);
        }
        IReadOnlyList<KnowledgeHit> hits;
        try
        {
            hits = await run.Get<KnowledgeSearch>().SearchAsSystemAsync(organizationId, query, scope, limit, run.Cancellation);
        }
        catch (Hosting.UserFacingException ex)
        {
            return await run.FailAsync(ex.Message);
        }
        if (run.Has("--json"))
        {
            await run.Output.WriteLineAsync(JsonSerializer.Serialize(hits, JsonOptions));
            return 0;
        }
        if (hits.Count == 0)
        {
            await run.Output.WriteLineAsync("no matches (only ready documents are searched)");
            return 0;
        }
        foreach (var hit in hits)
        {
            var position = string.Join(" · ", new[] { hit.Page is { } p ? "page " + p.ToString(CultureInfo.InvariantCulture) : null, hit.HeadingPath.Length > 0 ? hit.HeadingPath : null }
                .Where(s => s is not null));
            var start = string.Join(' ', hit.Text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            await run.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{hit.Rank,2}. fused {hit.FusedScore:0.0000} | vector {Score(hit.VectorScore, hit.VectorRank)} | text {Score(hit.TextScore, hit.TextRank)} | {hit.DocumentName}{(position.Length > 0 ? " · " + position : "")}"));
            await run.Output.WriteLineAsync("    " + (start.Length <= 160 ? start : start[..160] + "…"));
        }
        return 0;
    }

    private static string Score(double? score, int? rank) =>
        score is { } s && rank is { } r ? string.Create(CultureInfo.InvariantCulture, $"{s:0.0000} (#{r})") : "—";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
