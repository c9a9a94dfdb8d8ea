using AgentSpace.Admin;
using AgentSpace.Audit;
using AgentSpace.Chat;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Chat;

/// <summary><c>App agent ask</c> as an operator's script uses it: stdout, stderr and the exit code.</summary>
public sealed class AgentAskCommandTests(ChatFixture data) : IClassFixture<ChatFixture>
{
    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync(args, data.Services, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task AgentAsk_KnownAgent_StreamsAnswerToStdoutAndExitsZero()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, name: "helpdesk");
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "All systems nominal.", Chunks = 5 }
            : null);

        var (code, stdout, stderr) = await RunAsync("agent", "ask", org.Org.Slug, "helpdesk", "Status? " + marker);

        Assert.True(code == 0, stderr);
        Assert.Equal("All systems nominal.", stdout.Trim());
        var usage = Assert.Single(data.Guard.Recorded, u => u.AgentId == agent.Id);
        Assert.Equal("admin", usage.Source);
        var byId = await RunAsync("agent", "ask", org.Org.Slug, agent.Id.ToString(), "Again " + marker);
        Assert.Equal(0, byId.Code);
    }

    [Fact]
    public async Task AgentAsk_ToolCall_AuditedAsAdminCommand()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        await data.CreateAgentAsync(org.Org, name: "clock", tools: [AgentSpace.Agents.AgentTools.CurrentTime]);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => !r.PromptText.Contains(marker, StringComparison.Ordinal) ? null
            : r.PromptText.Contains("untrusted_content source=\"tool:current_time\"", StringComparison.Ordinal)
                ? ScriptedReply.Say("It is morning.")
                : ScriptedReply.CallTool(AgentSpace.Agents.AgentTools.CurrentTime, "{}", "Checking the clock."));

        var (code, stdout, _) = await RunAsync("agent", "ask", org.Org.Slug, "clock", "Time? " + marker);

        Assert.Equal(0, code);
        Assert.Contains("It is morning.", stdout, StringComparison.Ordinal);
        var audit = Assert.Single(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == ChatAuditActions.ToolCalled);
        Assert.Equal(AuditEntry.SystemActor, audit.ActorEmail);
        Assert.Contains(ChatCaller.AdminReason, audit.Details, StringComparison.Ordinal);
        // The tool ran against the fake clock of the test host.
        Assert.Contains("2026-11-01T09:00:00Z", data.Server.ChatRequests.Last(r => r.PromptText.Contains(marker, StringComparison.Ordinal)).PromptText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentAsk_UnknownAgentOrOrganization_ExitsOneWithOneLineReason()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);

        var agent = await RunAsync("agent", "ask", org.Org.Slug, "nobody", "Hello?");
        var organization = await RunAsync("agent", "ask", "no-such-org-" + Guid.NewGuid().ToString("N")[..6], "nobody", "Hello?");

        Assert.Equal(1, agent.Code);
        Assert.Equal($"error: no agent 'nobody' in {org.Org.Slug}.", agent.Err.Trim());
        Assert.Equal(1, organization.Code);
        Assert.Single(organization.Err.Trim().Split('\n'));
    }

    [Fact]
    public async Task AgentAsk_ProviderFails_ExitsOneWithTheProvidersError()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        await data.CreateAgentAsync(org.Org, name: "flaky");
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal) ? ScriptedReply.Fail(503, "Upstream is down for maintenance.") : null);

        var (code, _, stderr) = await RunAsync("agent", "ask", org.Org.Slug, "flaky", "Hello " + marker);

        Assert.Equal(1, code);
        Assert.Contains("Upstream is down for maintenance.", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task AgentAsk_Help_PrintsUsage()
    {
        var (code, stdout, _) = await RunAsync("agent", "ask", "--help");

        Assert.Equal(0, code);
        Assert.Contains("Usage: App agent ask <org-slug> <agent-name-or-id>", stdout, StringComparison.Ordinal);
    }
}
