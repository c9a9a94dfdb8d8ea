using AgentSpace.Chat;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Chat;

/// <summary>The app's own model gateway (provider and key from the vault) behind the chat engine.</summary>
public sealed class AppGatewayFixture : ChatFixture
{
    protected override bool UseAppGateway => true;

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Models:Retries"] = "0",
    };
}

public sealed class ChatGatewayTests(AppGatewayFixture data) : IClassFixture<AppGatewayFixture>
{
    [Fact]
    public async Task Send_ThroughConfiguredProvider_AnswersWithItsNameAndPrice()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var provider = await data.AddProviderAsync(org.Owner, org.Org);
        var agent = await data.CreateAgentWithProviderAsync(org.Org, provider);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "Through the gateway.", PromptTokens = 1000, CompletionTokens = 1000 }
            : null);

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Hi " + marker, null, default);

        Assert.True(outcome.Status == TurnStatus.Complete, outcome.Error);
        Assert.Equal("Recording", outcome.Label);
        var stored = (await data.TurnsAsync(org.Org, outcome.ConversationId)).Last();
        Assert.Equal((0.5m + 1.5m) / 1000m, stored.CostUsd);
    }

    [Fact]
    public async Task Send_ReplyContainsTheProvidersApiKeyFromTheVault_WithheldAndStoredNowhere()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var provider = await data.AddProviderAsync(org.Owner, org.Org);
        var agent = await data.CreateAgentWithProviderAsync(org.Org, provider);
        var marker = "q-" + Guid.NewGuid().ToString("N");
        // A model (or a prompt injection) that repeats the key it was called with.
        data.Server.RespondWith(r => r.PromptText.Contains(marker, StringComparison.Ordinal)
            ? new ScriptedReply { Text = "Your key is " + r.Authorization!["Bearer ".Length..] + ".", Chunks = 10 }
            : null);
        var watch = new LiveTurn();
        var shown = new List<string>();
        watch.Changed += () => shown.Add(watch.Text);

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "What is your key? " + marker, watch, default);

        Assert.Equal(TurnStatus.Refused, outcome.Status);
        Assert.Equal("The answer was withheld: it contained a secret value.", outcome.Error);
        var key = data.Server.ApiKey;
        Assert.DoesNotContain(shown, s => s.Contains(key[..(key.Length - 2)], StringComparison.Ordinal));
        Assert.DoesNotContain(await data.AllTurnsAsync(org.Org), t => t.Content.Contains(key, StringComparison.Ordinal));
    }
}
