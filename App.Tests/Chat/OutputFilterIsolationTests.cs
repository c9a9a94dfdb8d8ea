using AgentSpace.Chat;
using AgentSpace.Hosting;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Chat;

/// <summary>
/// The output filter checks only the organization's own keys: an Admin who points a provider at a server they control
/// learns nothing about another organization's key or the vault's master key from what the chat shows or withholds.
/// </summary>
public sealed class OutputFilterIsolationTests(AppGatewayFixture data) : IClassFixture<AppGatewayFixture>
{
    private const string AttackerKey = "attacker-own-key-0000";

    private async Task<(TestOrg Attacker, Guid AgentId, string VictimKey)> VictimAndAttackerAsync()
    {
        // The victim's key is opened once by an ordinary chat, so it is in this process's memory.
        var victim = await data.OrgWithMemberAsync(OrgRole.Member);
        data.Server.ApiKey = "sk-victim-" + Guid.NewGuid().ToString("N");
        var victimKey = data.Server.ApiKey;
        var victimAgent = await data.CreateAgentWithProviderAsync(victim.Org, await data.AddProviderAsync(victim.Owner, victim.Org));
        data.Server.DefaultReply = ScriptedReply.Say("hello");
        Assert.Equal(TurnStatus.Complete, (await data.Engine.SendAsync(ChatCaller.For(victim.Member), victim.Org.Slug, victimAgent.Id, null, "hi", null, default)).Status);

        var attacker = await data.OrgWithMemberAsync(OrgRole.Member);
        data.Server.ApiKey = AttackerKey;
        var agent = await data.CreateAgentWithProviderAsync(attacker.Org, await data.AddProviderAsync(attacker.Owner, attacker.Org));
        return (attacker, agent.Id, victimKey);
    }

    private async Task<(TurnOutcome Outcome, List<string> Shown)> ProbeAsync(TestOrg attacker, Guid agentId, string text, int pieces)
    {
        data.Server.DefaultReply = new ScriptedReply { Text = text, Chunks = pieces };
        var watch = new LiveTurn();
        var shown = new List<string>();
        watch.Changed += () => shown.Add(watch.Text);
        var outcome = await data.Engine.SendAsync(ChatCaller.For(attacker.Member), attacker.Org.Slug, agentId, null, "probe", watch, default);
        return (outcome, shown);
    }

    [Fact]
    public async Task AttackerStreamsPrefixesOfOtherSecrets_ChatShowsExactlyWhatItShowsForRandomText()
    {
        var (attacker, agentId, victimKey) = await VictimAndAttackerAsync();
        var masterKey = data.Configuration["Vault:MasterKey"]!;
        // Each piece ends with a longer prefix of a secret: the old filter held such endings back, one character at a time.
        var prefixes = Enumerable.Range(4, 12).SelectMany(n => new[] { "|" + victimKey[..n], "|" + masterKey[..n] }).ToList();
        var random = prefixes.Select(p => "|" + new string('x', p.Length - 1)).ToList();

        var probe = await ProbeAsync(attacker, agentId, string.Concat(prefixes), prefixes.Count);
        var control = await ProbeAsync(attacker, agentId, string.Concat(random), random.Count);

        Assert.Equal(TurnStatus.Complete, probe.Outcome.Status);
        Assert.Equal(string.Concat(prefixes), probe.Outcome.Content);
        Assert.Equal(control.Shown.Select(s => s.Length), probe.Shown.Select(s => s.Length));
    }

    [Fact]
    public async Task AttackerStreamsTheWholeOtherKeyAndMasterKey_NothingIsWithheld()
    {
        var (attacker, agentId, victimKey) = await VictimAndAttackerAsync();
        var masterKey = data.Configuration["Vault:MasterKey"]!;
        var text = $"guess {victimKey} and {masterKey} done";

        var (outcome, _) = await ProbeAsync(attacker, agentId, text, 8);

        // Neither is this organization's secret: a whole match says nothing either.
        Assert.Equal(TurnStatus.Complete, outcome.Status);
        Assert.Equal(text, outcome.Content);
    }

    [Fact]
    public async Task OwnKeyInTheAnswer_IsWithheldAndNoPartOfItWasShown()
    {
        var (attacker, agentId, _) = await VictimAndAttackerAsync();

        var (outcome, shown) = await ProbeAsync(attacker, agentId, "Here it is: " + AttackerKey + " and more text after it.", 12);

        Assert.Equal(TurnStatus.Refused, outcome.Status);
        Assert.DoesNotContain(shown, s => s.Contains(AttackerKey[..4], StringComparison.Ordinal));
    }

    [Fact]
    public async Task OrganizationDeleted_ItsOpenedKeysLeaveTheScrubList()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        data.Server.ApiKey = "sk-deleted-org-" + Guid.NewGuid().ToString("N");
        var key = data.Server.ApiKey;
        var agent = await data.CreateAgentWithProviderAsync(org.Org, await data.AddProviderAsync(org.Owner, org.Org));
        data.Server.DefaultReply = ScriptedReply.Say("hello");
        await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "hi", null, default);
        var scrub = data.Services.GetRequiredService<SecretValues>();
        Assert.Equal(SecretValues.Placeholder, scrub.Redact(key));

        await data.WithAsync<OrganizationService>(s => s.DeleteAsync(org.Owner, org.Org.Slug, org.Org.Slug, default));

        Assert.Equal(key, scrub.Redact(key));
    }
}
