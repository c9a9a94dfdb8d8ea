using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace AgentSpace.Tests.Providers;

/// <summary>An Anthropic provider, through the official SDK and the gateway, against a server speaking the Messages API.</summary>
public sealed class AnthropicProviderTests(ProvidersFixture data) : IClassFixture<ProvidersFixture>, IAsyncLifetime
{
    private RecordingModelServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingModelServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<ModelConnection> ConnectAsync(string? apiKey = null)
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        var id = await data.WithAsync<ProviderService, Guid>(s => s.CreateAsync(org.Owner, org.Org.Slug,
            new ProviderInput("Claude", ModelProviderKind.Anthropic, _server.RootUrl), apiKey ?? _server.ApiKey, default));
        await data.WithAsync<ProviderService, int>(s => s.AddModelsAsync(org.Owner, org.Org.Slug, id, ["claude-scripted"], default));
        return await data.WithAsync<IModelGateway, ModelConnection>(g => g.ConnectAsync(org.Org.Id, new ModelChoice(id, "claude-scripted"), default));
    }

    [Fact]
    public async Task Stream_AnthropicProvider_ArrivesInPiecesWithUsageAndTheKeyAsBearer()
    {
        _server.Enqueue(new ScriptedReply { Text = "Answered over the Messages API.", Chunks = 4, PromptTokens = 30, CompletionTokens = 6 });
        var connection = await ConnectAsync();

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "hello")]))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.Equal("Answered over the Messages API.", response.Text);
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 4);
        Assert.Equal(30, response.Usage?.InputTokenCount);
        Assert.Equal(6, response.Usage?.OutputTokenCount);
        var request = Assert.Single(_server.ChatRequests);
        Assert.Equal("/v1/messages", request.Path);
        // The 13.x SDK sends the API key as a bearer token, with its API version header.
        Assert.Equal("Bearer " + _server.ApiKey, request.Authorization);
        Assert.True(request.Headers.ContainsKey("anthropic-version"));
        Assert.Equal("claude-scripted", request.Json?["model"]?.GetValue<string>());
        Assert.Contains("Be brief.", request.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_AnthropicToolUse_ArrivesAsFunctionCall()
    {
        _server.Enqueue(ScriptedReply.CallTool("current_time", "{\"zone\":\"UTC\"}"));
        var connection = await ConnectAsync();

        var response = await connection.Client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "time?")]).ToChatResponseAsync();

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("current_time", call.Name);
        Assert.Equal("UTC", call.Arguments?["zone"]?.ToString());
    }

    [Fact]
    public async Task Call_AnthropicRefusesTheKey_CallerGetsItsWords()
    {
        var connection = await ConnectAsync(apiKey: "wrong-anthropic-key");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => connection.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")]));

        Assert.Contains("invalid x-api-key", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-anthropic-key", error.Message, StringComparison.Ordinal);
    }
}
