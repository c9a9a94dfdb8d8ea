using System.ClientModel;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using OpenAI;

namespace AgentSpace.Tests.Providers;

/// <summary>The test model server speaks the protocol the real OpenAI connector expects.</summary>
public sealed class RecordingModelServerTests : IAsyncLifetime
{
    private RecordingModelServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingModelServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IChatClient Client() =>
        new OpenAIClient(new ApiKeyCredential(_server.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseUrl) })
            .GetChatClient("scripted-small").AsIChatClient();

    [Fact]
    public async Task Stream_ScriptedText_ArrivesInPiecesWithUsage()
    {
        _server.Enqueue(new ScriptedReply { Text = "Hello from the script.", Chunks = 5, PromptTokens = 21, CompletionTokens = 5 });

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Client().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")]))
        {
            updates.Add(update);
        }

        var response = updates.ToChatResponse();
        Assert.Equal("Hello from the script.", response.Text);
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 5);
        Assert.Equal(21, response.Usage?.InputTokenCount);
        Assert.Equal(5, response.Usage?.OutputTokenCount);
        Assert.True(_server.ChatRequests.Single().Streamed);
        Assert.Contains("hi", _server.ChatRequests.Single().PromptText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_ScriptedToolCall_ArrivesAsFunctionCall()
    {
        _server.Enqueue(ScriptedReply.CallTool("current_time", "{}"));

        var response = await Client().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "time?")]).ToChatResponseAsync();

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("current_time", call.Name);
    }

    [Fact]
    public async Task Chat_WrongKey_GetsTheProvidersErrorText()
    {
        var client = new OpenAIClient(new ApiKeyCredential("sk-wrong"), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseUrl) })
            .GetChatClient("scripted-small").AsIChatClient();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.GetResponseAsync("hi"));

        Assert.Contains("Incorrect API key provided.", error.Message, StringComparison.Ordinal);
    }
}
