using System.Diagnostics;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace AgentSpace.Tests.Providers;

/// <summary>
/// What an agent's chat gets from the gateway: the organization's provider over real HTTP (the recording server),
/// Offline when none is chosen, retries that honour the provider, and the provider's own words when it fails.
/// </summary>
public sealed class ModelGatewayTests(ProvidersFixture data) : IClassFixture<ProvidersFixture>, IAsyncLifetime
{
    private RecordingModelServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingModelServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(TestOrg Org, Guid ProviderId)> ProviderAsync()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        return (org, await data.AddProviderAsync(org.Owner, org.Org, _server));
    }

    private Task<ModelConnection> ConnectAsync(Guid orgId, Guid? providerId, string? model = "scripted-small") =>
        data.WithAsync<IModelGateway, ModelConnection>(g => g.ConnectAsync(orgId, new ModelChoice(providerId, model), default));

    [Fact]
    public async Task Connect_ConfiguredProvider_StreamsFromItWithTheOrganizationsKey()
    {
        var (org, providerId) = await ProviderAsync();
        _server.Enqueue(new ScriptedReply { Text = "Streamed through the gateway.", Chunks = 5 });

        var connection = await ConnectAsync(org.Org.Id, providerId);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hello")]))
        {
            updates.Add(update);
        }

        Assert.Equal("Streamed through the gateway.", updates.ToChatResponse().Text);
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 5);
        var request = Assert.Single(_server.ChatRequests);
        Assert.Equal("Bearer " + _server.ApiKey, request.Authorization);
        Assert.Equal("scripted-small", request.Json?["model"]?.GetValue<string>());
        Assert.False(connection.IsOffline);
        Assert.Equal("Recording", connection.Label);
        Assert.Equal(new ModelPrice(0.5m, 1.5m), connection.Price);
    }

    [Fact]
    public async Task Connect_NoProvider_IsOfflineAndCallsNoNetwork()
    {
        var (org, _) = await ProviderAsync();

        var connection = await ConnectAsync(org.Org.Id, null, null);
        var answer = await connection.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")]);

        Assert.True(connection.IsOffline);
        Assert.Equal("Offline", connection.Label);
        Assert.Equal(ModelPrice.Free, connection.Price);
        Assert.Contains("Offline", answer.Text, StringComparison.Ordinal);
        Assert.Empty(_server.Received);
    }

    [Fact]
    public async Task Stream_SlowerThanTheAttemptTimeoutButSteady_IsNotCut()
    {
        var (org, providerId) = await ProviderAsync();
        // 6 pieces 400 ms apart: 2.4 s in all, more than twice the 1 s attempt timeout, never 1 s of silence.
        _server.Enqueue(new ScriptedReply { Text = "one two three four five six", Chunks = 6, ChunkDelay = TimeSpan.FromMilliseconds(400) });

        var connection = await ConnectAsync(org.Org.Id, providerId);
        var response = await connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "slowly")]).ToChatResponseAsync();

        Assert.Equal("one two three four five six", response.Text);
        Assert.Single(_server.ChatRequests);
    }

    [Fact]
    public async Task Call_429WithRetryAfterThen200_RetriesOnceAfterTheAdvertisedWait()
    {
        var (org, providerId) = await ProviderAsync();
        _server.Enqueue(ScriptedReply.Fail(429, "Rate limit reached, try again in 1s.", TimeSpan.FromSeconds(1)), ScriptedReply.Say("After the wait."));

        var connection = await ConnectAsync(org.Org.Id, providerId);
        var clock = Stopwatch.StartNew();
        var response = await connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")]).ToChatResponseAsync();
        clock.Stop();

        Assert.Equal("After the wait.", response.Text);
        Assert.Equal(2, _server.ChatRequests.Count);
        // The backoff alone would have waited 0.2 s; the provider asked for 1 s.
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task Call_RetryAfterBeyondTheCap_FailsAtOnceWithTheProvidersMessage()
    {
        var (org, providerId) = await ProviderAsync();
        _server.Enqueue(ScriptedReply.Fail(429, "Quota exhausted until tomorrow.", TimeSpan.FromMinutes(10)));

        var connection = await ConnectAsync(org.Org.Id, providerId);
        var error = await Assert.ThrowsAsync<ModelCallException>(() => connection.Client.GetResponseAsync("hi"));

        Assert.Single(_server.ChatRequests);
        Assert.Contains("429", error.Message, StringComparison.Ordinal);
        Assert.Contains("Quota exhausted until tomorrow.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_500Then200_Succeeds()
    {
        var (org, providerId) = await ProviderAsync();
        _server.Enqueue(ScriptedReply.Fail(500, "The server had an error."), ScriptedReply.Say("Recovered."));

        var connection = await ConnectAsync(org.Org.Id, providerId);
        var response = await connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")]).ToChatResponseAsync();

        Assert.Equal("Recovered.", response.Text);
        Assert.Equal(2, _server.ChatRequests.Count);
    }

    [Fact]
    public async Task Call_Persistent500_CallerGetsTheProvidersErrorText()
    {
        var (org, providerId) = await ProviderAsync();
        _server.RespondWith(_ => ScriptedReply.Fail(500, "The model is overloaded right now."));

        var connection = await ConnectAsync(org.Org.Id, providerId);
        var error = await Assert.ThrowsAsync<ModelCallException>(async () =>
        {
            await foreach (var _ in connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")]))
            {
            }
        });

        Assert.Equal("Recording answered 500 Internal Server Error: The model is overloaded right now.", error.Message);
        Assert.Equal(500, error.ProviderStatus);
        // The first attempt and the two configured retries; the SDK adds none of its own.
        Assert.Equal(3, _server.ChatRequests.Count);
    }

    [Fact]
    public async Task Connect_AnotherOrganizationsProvider_IsNotFound()
    {
        var (_, providerOfA) = await ProviderAsync();
        var other = await data.OrgWithMemberAsync(OrgRole.Member);

        var error = await Assert.ThrowsAsync<ProviderRuleException>(() => ConnectAsync(other.Org.Id, providerOfA));

        Assert.Equal(404, error.StatusCode);
        Assert.Empty(_server.Received);
    }

    [Fact]
    public async Task Connect_ModelNotOffered_IsRefusedWithAClearMessage()
    {
        var (org, providerId) = await ProviderAsync();

        var error = await Assert.ThrowsAsync<ProviderRuleException>(() => ConnectAsync(org.Org.Id, providerId, "gpt-unknown"));

        Assert.Contains("does not offer the model \"gpt-unknown\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Call_InsideATenantUnitOfWork_IsRefusedBeforeAnyRequest()
    {
        var (org, providerId) = await ProviderAsync();
        var connection = await ConnectAsync(org.Org.Id, providerId);

        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => data.WithAsync<TenantOperation>(ops =>
            ops.RunAsSystemAsync(org.Org.Id, "test", (_, ct) => connection.Client.GetResponseAsync("hi", cancellationToken: ct), default)));

        Assert.Empty(_server.ChatRequests);
    }
}
