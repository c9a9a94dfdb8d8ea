using System.Text.Json;
using AgentSpace.Agents;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Providers;

/// <summary>Settings → Models as its service: what Admins can do, what others cannot, and what the audit log keeps.</summary>
public sealed class ProviderServiceTests(ProvidersFixture data) : IClassFixture<ProvidersFixture>, IAsyncLifetime
{
    private RecordingModelServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingModelServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<T> WithAsync<T>(Func<ProviderService, Task<T>> work) => data.WithAsync(work);

    [Fact]
    public async Task TestConnection_WrongKey_ShowsTheProvidersMessageAndStatus()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server, apiKey: "sk-wrong-key-0000000000");

        var result = await WithAsync(s => s.TestConnectionAsync(org.Member, org.Org.Slug, id, default));

        Assert.False(result.Succeeded);
        Assert.Equal("Recording answered 401 Unauthorized: Incorrect API key provided.", result.Message);
    }

    [Fact]
    public async Task TestConnection_RightKey_Succeeds()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);

        var result = await WithAsync(s => s.TestConnectionAsync(org.Owner, org.Org.Slug, id, default));

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal("Bearer " + _server.ApiKey, _server.Received.Single(r => r.Path == "/v1/models").Authorization);
    }

    [Fact]
    public async Task FetchModels_ProviderListsThem_ReturnsItsModelIds()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);
        _server.ModelIds = ["alpha-1", "beta-2", "gamma-3"];

        var models = await WithAsync(s => s.FetchModelsAsync(org.Owner, org.Org.Slug, id, default));
        var added = await WithAsync(s => s.AddModelsAsync(org.Owner, org.Org.Slug, id, models, default));
        var list = await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default));

        Assert.Equal(["alpha-1", "beta-2", "gamma-3"], models);
        Assert.Equal(3, added);
        Assert.Equal(["alpha-1", "beta-2", "gamma-3", "scripted-small"], list.Providers.Single().Models.Select(m => m.ModelId));
    }

    [Fact]
    public async Task FetchModels_ProviderDoesNotListThem_SaysSoClearly()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await WithAsync(s => s.CreateAsync(org.Owner, org.Org.Slug,
            new ProviderInput("No list", ModelProviderKind.OpenAICompatible, _server.BaseUrl + "/nothing-here"), _server.ApiKey, default));

        var error = await Assert.ThrowsAsync<ModelCallException>(() => WithAsync(s => s.FetchModelsAsync(org.Owner, org.Org.Slug, id, default)));

        Assert.Contains("does not list its models", error.Message, StringComparison.Ordinal);
        Assert.Contains("404", error.Message, StringComparison.Ordinal);
        Assert.Contains("Add the model ids by hand", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Manage_AsMember_IsForbiddenButChoicesAreListed()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);
        var member = org.Member;
        var slug = org.Org.Slug;

        await Assert.ThrowsAsync<OrgForbiddenException>(() => WithAsync(s => s.CreateAsync(member, slug, new ProviderInput("Mine", ModelProviderKind.OpenAICompatible, _server.BaseUrl), "sk-member-key-123456", default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => WithAsync(s => s.ListAsync(member, slug, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.WithAsync<ProviderService>(s => s.SetApiKeyAsync(member, slug, id, "sk-member-key-123456", default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => data.WithAsync<ProviderService>(s => s.DeleteAsync(member, slug, id, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => WithAsync(s => s.TestConnectionAsync(member, slug, id, default)));

        var choices = await WithAsync(s => s.ChoicesAsync(member, slug, default));
        var choice = Assert.Single(choices);
        Assert.Equal(["scripted-small"], choice.Models);
        Assert.Empty(_server.Received);
    }

    [Fact]
    public async Task Manage_AnotherOrganizationsProvider_IsNotFound()
    {
        var a = await data.OrgWithMemberAsync(OrgRole.Member);
        var providerOfA = await data.AddProviderAsync(a.Owner, a.Org, _server);
        var b = await data.OrgWithMemberAsync(OrgRole.Member);

        var test = await Assert.ThrowsAsync<ProviderRuleException>(() => WithAsync(s => s.TestConnectionAsync(b.Owner, b.Org.Slug, providerOfA, default)));
        var delete = await Assert.ThrowsAsync<ProviderRuleException>(() => data.WithAsync<ProviderService>(s => s.DeleteAsync(b.Owner, b.Org.Slug, providerOfA, default)));
        await Assert.ThrowsAsync<OrgNotFoundException>(() => WithAsync(s => s.ListAsync(b.Owner, a.Org.Slug, default)));

        Assert.Equal(404, test.StatusCode);
        Assert.Equal(404, delete.StatusCode);
        Assert.Empty(_server.Received);
    }

    [Fact]
    public async Task Delete_ProviderAnAgentUses_IsRefusedNamingTheAgent()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);
        await data.WithAsync<TenantOperation>(ops => ops.RunAsSystemAsync(org.Org.Id, "test", async (work, ct) =>
        {
            var now = data.Clock.GetUtcNow();
            work.Db.Agents.Add(new Agent { Id = Guid.NewGuid(), Name = "Researcher", Colour = "#336699", ProviderId = id, Model = "scripted-small", CreatedBy = org.Owner.UserId, CreatedAt = now, UpdatedAt = now });
            await work.Db.SaveChangesAsync(ct);
        }, default));

        var error = await Assert.ThrowsAsync<ProviderRuleException>(() => data.WithAsync<ProviderService>(s => s.DeleteAsync(org.Member, org.Org.Slug, id, default)));

        Assert.Equal(409, error.StatusCode);
        Assert.Contains("Researcher uses Recording", error.Message, StringComparison.Ordinal);
        Assert.Single((await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default))).Providers);
    }

    [Fact]
    public async Task Delete_UnusedProvider_IsGoneAndAudited()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);

        await data.WithAsync<ProviderService>(s => s.DeleteAsync(org.Member, org.Org.Slug, id, default));

        Assert.Empty((await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default))).Providers);
        Assert.Contains(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == ProvidersAuditActions.ProviderDeleted && e.Target == id.ToString());
    }

    [Fact]
    public async Task KeyChanges_AuditRows_NeverContainTheKeyOrItsHint()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        const string first = "sk-audit-canary-first-7f3a9c2e";
        const string second = "sk-audit-canary-second-b81d44";
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server, apiKey: first);
        await data.WithAsync<ProviderService>(s => s.SetApiKeyAsync(org.Member, org.Org.Slug, id, second, default));

        var list = await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default));
        var rows = JsonSerializer.Serialize((await data.AuditLogAsync(org.Owner, org.Org.Slug)).Select(e => new { e.Action, e.Target, e.Details }));

        Assert.Equal("sk-…" + second[^4..], list.Providers.Single().KeyHint);
        Assert.Contains(ProvidersAuditActions.ApiKeySet, rows, StringComparison.Ordinal);
        Assert.Contains(ProvidersAuditActions.ProviderCreated, rows, StringComparison.Ordinal);
        foreach (var secret in new[] { first, second, "sk-…" + first[^4..], list.Providers.Single().KeyHint! })
        {
            Assert.DoesNotContain(secret, rows, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Update_AddressMovedToAnotherServer_KeyIsClearedAuditedAndNeverSentThere()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        const string key = "sk-moved-canary-5d1e0a77c3b2";
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server, apiKey: key);
        await using var elsewhere = await RecordingModelServer.StartAsync();

        var cleared = await WithAsync(s => s.UpdateAsync(org.Member, org.Org.Slug, id, new ProviderInput("Recording", ModelProviderKind.OpenAICompatible, elsewhere.BaseUrl), null, default));
        await WithAsync(s => s.TestConnectionAsync(org.Member, org.Org.Slug, id, default));

        Assert.True(cleared);
        Assert.Null((await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default))).Providers.Single().KeyHint);
        Assert.NotEmpty(elsewhere.Received);
        Assert.DoesNotContain(elsewhere.Received, r => (r.Authorization ?? "").Contains(key, StringComparison.Ordinal) || r.Body.Contains(key, StringComparison.Ordinal));
        var update = Assert.Single(await data.AuditLogAsync(org.Owner, org.Org.Slug), e => e.Action == ProvidersAuditActions.ProviderUpdated);
        Assert.Equal("cleared", JsonSerializer.Deserialize<Dictionary<string, string?>>(update.Details)!["credential"]);
        Assert.DoesNotContain(key[^4..], update.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_KindChanged_KeyIsCleared()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);

        var cleared = await WithAsync(s => s.UpdateAsync(org.Owner, org.Org.Slug, id, new ProviderInput("Recording", ModelProviderKind.Anthropic, _server.BaseUrl), null, default));

        Assert.True(cleared);
        Assert.Null((await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default))).Providers.Single().KeyHint);
    }

    [Fact]
    public async Task Update_RenamedOnTheSameServer_KeyIsKept()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);

        var cleared = await WithAsync(s => s.UpdateAsync(org.Owner, org.Org.Slug, id, new ProviderInput("Renamed", ModelProviderKind.OpenAICompatible, _server.BaseUrl), null, default));
        var result = await WithAsync(s => s.TestConnectionAsync(org.Owner, org.Org.Slug, id, default));

        Assert.False(cleared);
        Assert.True(result.Succeeded, result.Message);
    }

    [Fact]
    public async Task Update_NewAddressWithANewKeyInTheSameSave_NewKeyIsUsed()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server, apiKey: "sk-old-key-for-first-server-00");
        await using var elsewhere = await RecordingModelServer.StartAsync();

        var cleared = await WithAsync(s => s.UpdateAsync(org.Owner, org.Org.Slug, id, new ProviderInput("Recording", ModelProviderKind.OpenAICompatible, elsewhere.BaseUrl), elsewhere.ApiKey, default));
        var result = await WithAsync(s => s.TestConnectionAsync(org.Owner, org.Org.Slug, id, default));

        Assert.False(cleared);
        Assert.True(result.Succeeded, result.Message);
    }

    [Theory]
    [InlineData("ftp://models.example.com/v1")]
    [InlineData("api.openai.com/v1")]
    [InlineData("http://models.example.com/v1")]
    [InlineData("https://user:pass@models.example.com/v1")]
    [InlineData("https://models.example.com/v1?key=abc")]
    [InlineData("http://169.254.169.254/latest")]
    public async Task Create_UnsafeBaseUrl_IsRefused(string url)
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);

        var error = await Assert.ThrowsAsync<ProviderRuleException>(() =>
            WithAsync(s => s.CreateAsync(org.Owner, org.Org.Slug, new ProviderInput("Bad", ModelProviderKind.OpenAICompatible, url), null, default)));

        Assert.Equal(400, error.StatusCode);
        Assert.Empty((await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default))).Providers);
    }

    [Fact]
    public async Task SetPrice_Negative_IsRefused()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Admin);
        var id = await data.AddProviderAsync(org.Owner, org.Org, _server);

        await Assert.ThrowsAsync<ProviderRuleException>(() => data.WithAsync<ProviderService>(s => s.SetPriceAsync(org.Owner, org.Org.Slug, id, "scripted-small", -1m, 1m, default)));

        Assert.Equal(0.5m, (await WithAsync(s => s.ListAsync(org.Owner, org.Org.Slug, default))).Providers.Single().Models.Single().InputUsdPerMillion);
    }
}
