using AgentSpace.Admin;
using AgentSpace.Tenancy;

namespace AgentSpace.Chat;

/// <summary><c>App agent ask &lt;org&gt; &lt;agent&gt; "&lt;question&gt;"</c>: the chat engine from a shell, for operators' scripts and smoke tests.</summary>
internal static class ChatAdminCommands
{
    public static IServiceCollection AddChatAdminCommands(this IServiceCollection services) =>
        services.AddAdminCommand(new AdminCommand("agent ask", "<org-slug> <agent-name-or-id> \"<question>\"",
            "Ask an agent a question; the answer streams to stdout.",
            "Runs the same engine as the chat page, as the system actor (the audit log says \"admin command\";\n" +
            "usage is recorded with source \"admin\"). Limits apply: a paused agent, a used-up budget or the\n" +
            "cost cap refuse. The answer streams to stdout; exit code 0 when it completed, 1 with a one-line\n" +
            "reason on stderr when it was refused, halted or failed, or the organization or agent is unknown.",
            AskAsync));

    private static async Task<int> AskAsync(AdminInvocation run)
    {
        var positional = run.Args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (positional.Count != 3 || string.IsNullOrWhiteSpace(positional[2]))
        {
            return await run.UsageErrorAsync("agent ask needs <org-slug> <agent-name-or-id> \"<question>\".");
        }
        var (slug, agentName, question) = (positional[0], positional[1], positional[2]);
        var caller = ChatCaller.AdminCommand;
        OrgContext org;
        try
        {
            org = await run.Get<ChatTenant>().ResolveAsync(caller, OrgRef.BySlug(slug), OrgRole.Owner, "agent ask", run.Cancellation);
        }
        catch (OrgNotFoundException)
        {
            return await run.FailAsync($"no organization '{slug}'.");
        }
        if (await run.Get<ChatService>().FindAgentAsSystemAsync(org.Id, agentName, run.Cancellation) is not { } agentId)
        {
            return await run.FailAsync($"no agent '{agentName}' in {slug}.");
        }
        var watch = new LiveTurn();
        var printed = 0;
        watch.Changed += () =>
        {
            // The text only grows while streaming (the output filter holds a tail back, never takes text away).
            if (watch.Text.Length > printed && watch.Status == TurnStatus.Streaming)
            {
                run.Output.Write(watch.Text.AsSpan(printed));
                run.Output.Flush();
                printed = watch.Text.Length;
            }
        };
        TurnOutcome outcome;
        try
        {
            outcome = await run.Get<ChatEngine>().SendAsync(caller, OrgRef.ById(org.Id), agentId, null, question, watch, run.Cancellation);
        }
        catch (Hosting.UserFacingException ex)
        {
            return await run.FailAsync(ex.Message);
        }
        if (outcome.Status is TurnStatus.Complete)
        {
            if (outcome.Content.Length > printed)
            {
                await run.Output.WriteAsync(outcome.Content.AsMemory(printed));
            }
            await run.Output.WriteLineAsync();
            return 0;
        }
        await run.Output.WriteLineAsync();
        var reason = outcome.Error ?? $"the answer ended as {outcome.Status}.";
        return await run.FailAsync(string.Join(' ', reason.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)));
    }
}
