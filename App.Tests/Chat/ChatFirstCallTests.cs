using AgentSpace.Chat;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Chat;

/// <summary>The app's own gateway and cost guard together, as in production.</summary>
public sealed class AppGatewayAndGuardFixture : ChatFixture
{
    protected override bool UseAppGateway => true;

    protected override bool UseAppCostGuard => true;

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Models:Retries"] = "0",
    };
}

/// <summary>
/// A turn's first model call is routed and checked in the unit of work that writes the turn, and its client may
/// come from a short-lived cache: neither may outlive a change to the provider or leave a reservation behind.
/// </summary>
public sealed class ChatFirstCallTests(AppGatewayAndGuardFixture data) : IClassFixture<AppGatewayAndGuardFixture>
{
    [Fact]
    public async Task Send_AfterAnAdminReplacesTheProvidersKey_TheNextTurnCallsWithTheNewKey()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var providerId = await data.AddProviderAsync(org.Owner, org.Org);
        var agent = await data.CreateAgentWithProviderAsync(org.Org, providerId);
        var oldKey = data.Server.ApiKey;
        var first = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "First", null, default);
        Assert.True(first.Status == TurnStatus.Complete, first.Error);
        var newKey = "sk-rotated-" + Guid.NewGuid().ToString("N");
        try
        {
            await data.WithAsync<ProviderService, bool>(s => s.UpdateAsync(org.Owner, org.Org.Slug, providerId,
                new ProviderInput("Recording", ModelProviderKind.OpenAICompatible, data.Server.BaseUrl), newKey, default));
            // The server now accepts only the new key: a client kept from the first turn would get 401.
            data.Server.ApiKey = newKey;

            var second = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Second", null, default);

            Assert.True(second.Status == TurnStatus.Complete, second.Error);
            Assert.Equal("Bearer " + newKey, data.Server.ChatRequests[^1].Authorization);
        }
        finally
        {
            data.Server.ApiKey = oldKey;
        }
    }

    [Fact]
    public async Task Send_KeyCannotBeOpened_TurnFailsWithTheReasonAndNoSpendStaysReserved()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var providerId = await data.AddProviderAsync(org.Owner, org.Org);
        var agent = await data.CreateAgentWithProviderAsync(org.Org, providerId);
        await data.InTenantAsync(org.Org, async db =>
        {
            var provider = await db.ModelProviders.FirstAsync(p => p.Id == providerId);
            provider.ApiKeyCiphertext = [.. provider.ApiKeyCiphertext!.Select(b => (byte)(b ^ 0x5a))];
            await db.SaveChangesAsync();
        });
        var requestsBefore = data.Server.ChatRequests.Count;

        var outcome = await data.Engine.SendAsync(ChatCaller.For(org.Member), org.Org.Slug, agent.Id, null, "Hello", null, default);

        Assert.Equal(TurnStatus.Failed, outcome.Status);
        Assert.Contains("cannot be opened", outcome.Error, StringComparison.Ordinal);
        Assert.Equal(requestsBefore, data.Server.ChatRequests.Count);
        // The first call was admitted (and its cost held) when the turn was written; it was never made, so nothing stays held.
        Assert.Equal(0, await data.InTenantAsync(org.Org, db => db.Set<UsageReservation>().CountAsync()));
    }
}
