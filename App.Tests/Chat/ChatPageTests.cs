using AgentSpace.Agents;
using AgentSpace.Chat;
using AgentSpace.Chat.Pages;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Chat;

/// <summary>The chat page as members and viewers see it.</summary>
public sealed class ChatPageTests(ChatFixture data) : PageTestBase(data), IClassFixture<ChatFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private void SignInWithModels(AgentSpace.Identity.Actor actor)
    {
        SignInAs(actor);
        ChatFixture.AddTestModels(Services, () => data.Server, data.Guard);
    }

    [Fact]
    public async Task ChatPage_StoredConversation_RendersMarkdownToolStepsAndAnswerer()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, tools: [AgentTools.CurrentTime]);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => !r.PromptText.Contains(marker, StringComparison.Ordinal) ? null
            : r.PromptText.Contains("source=\"tool:current_time\"", StringComparison.Ordinal)
                ? ScriptedReply.Say("It is **nine** o'clock.\n\n```\necho <b>hi</b>\n```\n\n<script>alert(1)</script>")
                : ScriptedReply.CallTool(AgentTools.CurrentTime, "{}", "Let me check the clock."));
        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "What time is it? " + marker, null, default);
        SignInWithModels(org.Member);

        Services.GetRequiredService<NavigationManager>().NavigateTo($"/o/{org.Org.Slug}/chat/{agent.Id}?c={outcome.ConversationId}");

        var cut = Render<ChatPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.AgentId, agent.Id));

        cut.WaitForAssertion(() => Assert.Contains("<strong>nine</strong>", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Contains("data-tool=\"current_time\"", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Let me check the clock.", cut.Find("details[data-tool='current_time']").TextContent, StringComparison.Ordinal);
        Assert.Contains(RecordingServerGateway.Label, cut.Markup, StringComparison.Ordinal);
        Assert.Contains("echo &lt;b&gt;hi&lt;/b&gt;", cut.Find("pre code").InnerHtml, StringComparison.Ordinal);
        Assert.NotEmpty(cut.FindAll("[aria-label='Copy code']"));
        Assert.DoesNotContain("<script>", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Regenerate", cut.Markup, StringComparison.Ordinal);
        Assert.False(cut.Find("textarea").HasAttribute("disabled"));
    }

    [Fact]
    public async Task ChatPage_AsViewer_ReadsButInputIsDisabledWithAReason()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Viewer);
        var agent = await data.CreateAgentAsync(org.Org);
        SignInWithModels(org.Member);

        var cut = Render<ChatPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.AgentId, agent.Id));

        cut.WaitForAssertion(() => Assert.Contains("Viewers can read conversations but cannot send messages.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.True(cut.Find("textarea").HasAttribute("disabled"));
    }

    [Fact]
    public async Task ChatPage_MemberSends_AnswerStoredAndConversationOpened()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org, offline: true);
        await data.AddMemoryAsync(org.Org, agent.Id, "The library closes at six in the evening.");
        SignInWithModels(org.Member);
        var cut = Render<ChatPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.AgentId, agent.Id));
        cut.WaitForAssertion(() => cut.Find("textarea"), Wait);

        cut.Find("textarea").Input("When does the library close?");
        cut.WaitForAssertion(() => Assert.False(SendButton(cut).HasAttribute("disabled")), Wait);
        await cut.InvokeAsync(() => SendButton(cut).Click());

        var navigation = Services.GetRequiredService<NavigationManager>();
        cut.WaitForAssertion(() => Assert.Contains("?c=", navigation.Uri, StringComparison.Ordinal), Wait);
        var conversationId = Guid.Parse(navigation.Uri[(navigation.Uri.IndexOf("?c=", StringComparison.Ordinal) + 3)..]);
        var turns = await data.TurnsAsync(org.Org, conversationId);
        Assert.Equal(TurnStatus.Complete, turns.Last().Status);
        Assert.Contains("six in the evening", turns.Last().Content, StringComparison.Ordinal);
        Assert.Equal("Offline", turns.Last().ProviderLabel);
    }

    [Fact]
    public async Task ChatPage_StopWhileStreaming_KeepsTheTextAndShowsStopped()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(org.Org);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "streaming ", Chunks = 1, ChunkDelay = TimeSpan.FromMilliseconds(20), Endless = true }
            : null);
        SignInWithModels(org.Member);
        var cut = Render<ChatPage>(p => p.Add(x => x.Slug, org.Org.Slug).Add(x => x.AgentId, agent.Id));
        cut.WaitForAssertion(() => cut.Find("textarea"), Wait);
        cut.Find("textarea").Input("Keep talking " + marker);
        cut.WaitForAssertion(() => Assert.False(SendButton(cut).HasAttribute("disabled")), Wait);
        await cut.InvokeAsync(() => SendButton(cut).Click());

        cut.WaitForAssertion(() => Assert.Contains("streaming streaming", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.True(cut.Find("textarea").HasAttribute("disabled"));
        await cut.InvokeAsync(() => cut.FindAll("button").Single(b => b.TextContent.Contains("Stop", StringComparison.Ordinal)).Click());

        var navigation = Services.GetRequiredService<NavigationManager>();
        cut.WaitForAssertion(() => Assert.Contains("?c=", navigation.Uri, StringComparison.Ordinal), Wait);
        var conversationId = Guid.Parse(navigation.Uri[(navigation.Uri.IndexOf("?c=", StringComparison.Ordinal) + 3)..]);
        var answer = (await data.TurnsAsync(org.Org, conversationId)).Last();
        Assert.Equal(TurnStatus.Stopped, answer.Status);
        Assert.StartsWith("streaming streaming", answer.Content, StringComparison.Ordinal);
    }

    private static AngleSharp.Dom.IElement SendButton(IRenderedComponent<ChatPage> cut) =>
        cut.FindAll("button").Single(b => b.TextContent.Contains("Send", StringComparison.Ordinal));

    [Fact]
    public async Task ChatPage_AnotherOrganizationsAgent_ShowsNotFound()
    {
        var mine = await Data.OrgWithMemberAsync(OrgRole.Member);
        var theirs = await Data.OrgWithMemberAsync(OrgRole.Member);
        var theirAgent = await data.CreateAgentAsync(theirs.Org, name: "their-secret-agent");
        SignInWithModels(mine.Member);

        var cut = Render<ChatPage>(p => p.Add(x => x.Slug, mine.Org.Slug).Add(x => x.AgentId, theirAgent.Id));

        cut.WaitForAssertion(() => Assert.Contains("Agent not found.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.DoesNotContain("their-secret-agent", cut.Markup, StringComparison.Ordinal);
    }
}
