using AgentSpace.Chat;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Chat;

/// <summary>What one organization's Admin saves as an "API key" never changes another organization's answers.</summary>
public sealed class SecretPoisonTests(ChatFixture data) : IClassFixture<ChatFixture>
{
    [Theory]
    [InlineData("because")]
    [InlineData("the invoice is due on Friday")]
    public async Task AnotherOrgSavesAPhraseAsItsKey_ThisOrgsAnswersContainingItAreComplete(string phrase)
    {
        var victim = await data.OrgWithMemberAsync(OrgRole.Member);
        var agent = await data.CreateAgentAsync(victim.Org);
        var attacker = await data.OrgWithMemberAsync(OrgRole.Member);
        await data.WithAsync<ProviderService, Guid>(s => s.CreateAsync(attacker.Owner, attacker.Org.Slug,
            new ProviderInput("Poison", ModelProviderKind.OpenAICompatible, "https://api.openai.com/v1"), phrase.Replace(' ', '-'), default));
        await data.WithAsync<ProviderService, Guid>(s => s.CreateAsync(attacker.Owner, attacker.Org.Slug,
            new ProviderInput("Poison 2", ModelProviderKind.OpenAICompatible, "https://api.openai.com/v1"), phrase.Split(' ')[0], default));
        var reply = $"You should pay because {phrase} and {phrase.Replace(' ', '-')}.";
        data.Server.DefaultReply = ScriptedReply.Say(reply);

        var outcome = await data.Engine.SendAsync(ChatCaller.For(victim.Member), victim.Org.Slug, agent.Id, null, "hi again", null, default);

        Assert.Equal(TurnStatus.Complete, outcome.Status);
        Assert.Equal(reply, outcome.Content);
    }
}
