using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentSpace.Tests.Infrastructure;

/// <summary>A tool call the scripted model asks for.</summary>
public sealed record ScriptedToolCall(string Name, string ArgumentsJson, string? Id = null);

/// <summary>
/// What the scripted model answers to one request: text (streamed in <see cref="Chunks"/> pieces), tool
/// calls, or an HTTP error. <see cref="ChunkDelay"/> paces the stream; <see cref="Endless"/> keeps
/// streaming until the client goes away.
/// </summary>
public sealed record ScriptedReply
{
    public string Text { get; init; } = "";
    public IReadOnlyList<ScriptedToolCall> ToolCalls { get; init; } = [];
    public int StatusCode { get; init; } = 200;
    public string? ErrorMessage { get; init; }
    public TimeSpan? RetryAfter { get; init; }
    public int? PromptTokens { get; init; } = 11;
    public int? CompletionTokens { get; init; } = 7;
    /// <summary>False: the answer carries no usage (the app must count tokens itself).</summary>
    public bool IncludeUsage { get; init; } = true;
    public int Chunks { get; init; } = 4;
    public TimeSpan ChunkDelay { get; init; } = TimeSpan.Zero;
    public bool Endless { get; init; }

    public static ScriptedReply Say(string text) => new() { Text = text };

    public static ScriptedReply CallTool(string name, string argumentsJson, string? reasonText = null) =>
        new() { Text = reasonText ?? "", ToolCalls = [new ScriptedToolCall(name, argumentsJson)] };

    public static ScriptedReply Fail(int statusCode, string message, TimeSpan? retryAfter = null) =>
        new() { StatusCode = statusCode, ErrorMessage = message, RetryAfter = retryAfter };
}

/// <summary>One request the server received, as sent.</summary>
public sealed record RecordedRequest(string Path, string? Authorization, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonNode? Json => string.IsNullOrEmpty(Body) ? null : JsonNode.Parse(Body);

    /// <summary>Every message's text content, in order, joined by newlines: what the model was shown.</summary>
    public string PromptText
    {
        get
        {
            var messages = Json?["messages"]?.AsArray();
            if (messages is null)
            {
                return "";
            }
            var text = new StringBuilder();
            foreach (var message in messages)
            {
                var content = message?["content"];
                if (content is JsonValue)
                {
                    text.AppendLine(content.GetValue<string>());
                }
                else if (content is JsonArray parts)
                {
                    foreach (var part in parts)
                    {
                        text.AppendLine(part?["text"]?.GetValue<string>());
                    }
                }
            }
            return text.ToString();
        }
    }

    /// <summary>The system message(s) text.</summary>
    public string SystemText =>
        string.Join("\n", Json?["messages"]?.AsArray().Where(m => m?["role"]?.GetValue<string>() is "system" or "developer")
            .Select(m => m?["content"] is JsonValue v ? v.GetValue<string>() : m?["content"]?.ToJsonString() ?? "") ?? []);

    public bool Streamed => Json?["stream"]?.GetValue<bool>() == true;
}

/// <summary>
/// A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol (JSON and SSE
/// streaming, tool calls, usage), lists models and answers embeddings, records every request, and
/// answers from a script. The app's real connector code talks to it over the loopback network.
/// </summary>
public sealed class RecordingModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ScriptedReply> _script = new();
    private readonly ConcurrentQueue<RecordedRequest> _received = new();
    private Func<RecordedRequest, ScriptedReply?>? _responder;
    private int _openStreams;

    private RecordingModelServer(WebApplication app) => _app = app;

    /// <summary>The OpenAI-style base URL, ending in <c>/v1</c>.</summary>
    public string BaseUrl { get; private set; } = "";
    public string ApiKey { get; set; } = "sk-test-recording-key";
    public IReadOnlyList<string> ModelIds { get; set; } = ["scripted-small", "scripted-large"];
    /// <summary>The reply when nothing is scripted.</summary>
    public ScriptedReply DefaultReply { get; set; } = ScriptedReply.Say("Scripted answer.");
    public IReadOnlyList<RecordedRequest> Received => [.. _received];
    public IReadOnlyList<RecordedRequest> ChatRequests => [.. _received.Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal) || r.Path.EndsWith("/messages", StringComparison.Ordinal))];
    /// <summary>The server root, for clients that add <c>/v1/...</c> themselves (Anthropic's).</summary>
    public string RootUrl => BaseUrl[..^"/v1".Length];
    /// <summary>Streams the server is writing right now (a cancelled client closes its stream).</summary>
    public int OpenStreams => Volatile.Read(ref _openStreams);
    /// <summary>When a stream last ended because the client went away.</summary>
    public DateTimeOffset? LastClientAbortAt { get; private set; }

    public static async Task<RecordingModelServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new RecordingModelServer(app);
        app.MapPost("/v1/chat/completions", server.ChatAsync);
        app.MapGet("/v1/models", server.ModelsAsync);
        app.MapPost("/v1/embeddings", server.EmbeddingsAsync);
        app.MapPost("/v1/messages", server.AnthropicMessagesAsync);
        await app.StartAsync();
        server.BaseUrl = app.Urls.Single().TrimEnd('/') + "/v1";
        return server;
    }

    /// <summary>Answers the next requests with these replies, in order; then <see cref="DefaultReply"/>.</summary>
    public void Enqueue(params ScriptedReply[] replies)
    {
        foreach (var reply in replies)
        {
            _script.Enqueue(reply);
        }
    }

    /// <summary>Decides each reply from the request (return null to fall back to the queue and default).</summary>
    public void RespondWith(Func<RecordedRequest, ScriptedReply?> responder) => _responder = responder;

    public void ClearRecorded() => _received.Clear();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<RecordedRequest> RecordAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(http.RequestAborted);
        var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new RecordedRequest(http.Request.Path, http.Request.Headers.Authorization.ToString(), headers, body);
        _received.Enqueue(request);
        return request;
    }

    private bool Authorized(HttpContext http) =>
        http.Request.Headers.Authorization.ToString() == "Bearer " + ApiKey
        || http.Request.Headers["x-api-key"].ToString() == ApiKey;

    private static Task ErrorAsync(HttpContext http, int status, string message, string type = "invalid_request_error", TimeSpan? retryAfter = null)
    {
        http.Response.StatusCode = status;
        if (retryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        return http.Response.WriteAsJsonAsync(new { error = new { message, type, code = (string?)null } });
    }

    private async Task ModelsAsync(HttpContext http)
    {
        _received.Enqueue(new RecordedRequest(http.Request.Path, http.Request.Headers.Authorization.ToString(), new Dictionary<string, string>(), ""));
        if (!Authorized(http))
        {
            await ErrorAsync(http, 401, "Incorrect API key provided.", "invalid_api_key");
            return;
        }
        await http.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = ModelIds.Select(id => new { id, @object = "model", created = 1_700_000_000, owned_by = "recording" }),
        });
    }

    private async Task EmbeddingsAsync(HttpContext http)
    {
        var request = await RecordAsync(http);
        if (!Authorized(http))
        {
            await ErrorAsync(http, 401, "Incorrect API key provided.", "invalid_api_key");
            return;
        }
        var input = request.Json?["input"];
        var texts = input is JsonArray array ? array.Select(i => i?.GetValue<string>() ?? "").ToList() : [input?.GetValue<string>() ?? ""];
        var dimensions = request.Json?["dimensions"]?.GetValue<int>() ?? 8;
        await http.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            model = request.Json?["model"]?.GetValue<string>(),
            data = texts.Select((text, index) => new { @object = "embedding", index, embedding = DeterministicVector(text, dimensions) }),
            usage = new { prompt_tokens = texts.Sum(t => t.Length / 4 + 1), total_tokens = texts.Sum(t => t.Length / 4 + 1) },
        });
    }

    private static float[] DeterministicVector(string text, int dimensions)
    {
        var vector = new float[dimensions];
        var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text));
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] = (hash[i % hash.Length] - 128) / 128f;
        }
        return vector;
    }

    private async Task ChatAsync(HttpContext http)
    {
        var request = await RecordAsync(http);
        if (!Authorized(http))
        {
            await ErrorAsync(http, 401, "Incorrect API key provided.", "invalid_api_key");
            return;
        }
        var reply = _responder?.Invoke(request) ?? (_script.TryDequeue(out var next) ? next : DefaultReply);
        if (reply.StatusCode != 200)
        {
            await ErrorAsync(http, reply.StatusCode, reply.ErrorMessage ?? "Scripted failure.", "server_error", reply.RetryAfter);
            return;
        }
        var model = request.Json?["model"]?.GetValue<string>() ?? "scripted";
        if (request.Streamed)
        {
            await StreamAsync(http, request, reply, model);
        }
        else
        {
            await http.Response.WriteAsJsonAsync(Completion(reply, model));
        }
    }

    /// <summary>Anthropic's Messages API (<c>POST /v1/messages</c>): JSON, or server-sent events when <c>stream</c> is set.</summary>
    private async Task AnthropicMessagesAsync(HttpContext http)
    {
        var request = await RecordAsync(http);
        if (!Authorized(http))
        {
            http.Response.StatusCode = 401;
            await http.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "authentication_error", message = "invalid x-api-key" } });
            return;
        }
        var reply = _responder?.Invoke(request) ?? (_script.TryDequeue(out var next) ? next : DefaultReply);
        var model = request.Json?["model"]?.GetValue<string>() ?? "scripted";
        if (reply.StatusCode != 200)
        {
            http.Response.StatusCode = reply.StatusCode;
            await http.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "api_error", message = reply.ErrorMessage ?? "Scripted failure." } });
            return;
        }
        var id = "msg_" + Guid.NewGuid().ToString("N");
        var stopReason = reply.ToolCalls.Count > 0 ? "tool_use" : "end_turn";
        if (request.Json?["stream"]?.GetValue<bool>() != true)
        {
            var content = new JsonArray();
            if (reply.Text.Length > 0)
            {
                content.Add(new JsonObject { ["type"] = "text", ["text"] = reply.Text });
            }
            foreach (var call in reply.ToolCalls)
            {
                content.Add(new JsonObject { ["type"] = "tool_use", ["id"] = call.Id ?? "toolu_" + Guid.NewGuid().ToString("N")[..12], ["name"] = call.Name, ["input"] = JsonNode.Parse(call.ArgumentsJson) });
            }
            var message = new JsonObject
            {
                ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = content,
                ["stop_reason"] = stopReason, ["stop_sequence"] = null,
                ["usage"] = new JsonObject { ["input_tokens"] = reply.PromptTokens ?? 0, ["output_tokens"] = reply.CompletionTokens ?? 0 },
            };
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(message.ToJsonString());
            return;
        }
        http.Response.ContentType = "text/event-stream";
        var ct = http.RequestAborted;
        Interlocked.Increment(ref _openStreams);
        try
        {
            await EventAsync("message_start", new JsonObject
            {
                ["type"] = "message_start",
                ["message"] = new JsonObject
                {
                    ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                    ["stop_reason"] = null, ["stop_sequence"] = null,
                    ["usage"] = new JsonObject { ["input_tokens"] = reply.PromptTokens ?? 0, ["output_tokens"] = 1 },
                },
            });
            var index = 0;
            if (reply.Text.Length > 0)
            {
                await EventAsync("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = index, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
                foreach (var piece in Split(reply.Text, reply.Chunks))
                {
                    if (reply.ChunkDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(reply.ChunkDelay, ct);
                    }
                    await EventAsync("content_block_delta", new JsonObject { ["type"] = "content_block_delta", ["index"] = index, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece } });
                }
                await EventAsync("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index });
                index++;
            }
            foreach (var call in reply.ToolCalls)
            {
                await EventAsync("content_block_start", new JsonObject
                {
                    ["type"] = "content_block_start", ["index"] = index,
                    ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = call.Id ?? "toolu_" + Guid.NewGuid().ToString("N")[..12], ["name"] = call.Name, ["input"] = new JsonObject() },
                });
                await EventAsync("content_block_delta", new JsonObject { ["type"] = "content_block_delta", ["index"] = index, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = call.ArgumentsJson } });
                await EventAsync("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index });
                index++;
            }
            await EventAsync("message_delta", new JsonObject
            {
                ["type"] = "message_delta",
                ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = null },
                ["usage"] = new JsonObject { ["output_tokens"] = reply.CompletionTokens ?? 0 },
            });
            await EventAsync("message_stop", new JsonObject { ["type"] = "message_stop" });
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            LastClientAbortAt = DateTimeOffset.UtcNow;
        }
        finally
        {
            Interlocked.Decrement(ref _openStreams);
        }

        async Task EventAsync(string name, JsonObject data)
        {
            await http.Response.WriteAsync("event: " + name + "\ndata: " + data.ToJsonString() + "\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
    }

    private static object Completion(ScriptedReply reply, string model) => new
    {
        id = "chatcmpl-" + Guid.NewGuid().ToString("N"),
        @object = "chat.completion",
        created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        model,
        choices = new[]
        {
            new
            {
                index = 0,
                message = new
                {
                    role = "assistant",
                    content = reply.ToolCalls.Count > 0 && reply.Text.Length == 0 ? null : reply.Text,
                    tool_calls = reply.ToolCalls.Count == 0 ? null : reply.ToolCalls.Select((c, i) => new
                    {
                        id = c.Id ?? "call_" + i.ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..8],
                        type = "function",
                        function = new { name = c.Name, arguments = c.ArgumentsJson },
                    }).ToArray(),
                },
                finish_reason = reply.ToolCalls.Count > 0 ? "tool_calls" : "stop",
            },
        },
        usage = reply.IncludeUsage ? new { prompt_tokens = reply.PromptTokens ?? 0, completion_tokens = reply.CompletionTokens ?? 0, total_tokens = (reply.PromptTokens ?? 0) + (reply.CompletionTokens ?? 0) } : null,
    };

    private async Task StreamAsync(HttpContext http, RecordedRequest request, ScriptedReply reply, string model)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var ct = http.RequestAborted;
        Interlocked.Increment(ref _openStreams);
        try
        {
            await SendAsync(Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null));
            var pieces = Split(reply.Text, reply.Chunks);
            var sent = 0;
            while (true)
            {
                foreach (var piece in pieces)
                {
                    if (reply.ChunkDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(reply.ChunkDelay, ct);
                    }
                    await SendAsync(Chunk(new JsonObject { ["content"] = piece }, null));
                    sent++;
                }
                if (!reply.Endless)
                {
                    break;
                }
            }
            for (var i = 0; i < reply.ToolCalls.Count; i++)
            {
                var call = reply.ToolCalls[i];
                var toolCall = new JsonObject
                {
                    ["index"] = i,
                    ["id"] = call.Id ?? "call_" + i.ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..8],
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = call.Name, ["arguments"] = call.ArgumentsJson },
                };
                await SendAsync(Chunk(new JsonObject { ["tool_calls"] = new JsonArray(toolCall) }, null));
            }
            await SendAsync(Chunk(new JsonObject(), reply.ToolCalls.Count > 0 ? "tool_calls" : "stop"));
            var includeUsage = request.Json?["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
            if (reply.IncludeUsage && includeUsage)
            {
                var usage = new JsonObject
                {
                    ["id"] = id,
                    ["object"] = "chat.completion.chunk",
                    ["created"] = created,
                    ["model"] = model,
                    ["choices"] = new JsonArray(),
                    ["usage"] = new JsonObject
                    {
                        ["prompt_tokens"] = reply.PromptTokens ?? 0,
                        ["completion_tokens"] = reply.CompletionTokens ?? 0,
                        ["total_tokens"] = (reply.PromptTokens ?? 0) + (reply.CompletionTokens ?? 0),
                    },
                };
                await SendAsync(usage);
            }
            await http.Response.WriteAsync("data: [DONE]\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            LastClientAbortAt = DateTimeOffset.UtcNow;
        }
        catch (IOException)
        {
            LastClientAbortAt = DateTimeOffset.UtcNow;
        }
        finally
        {
            Interlocked.Decrement(ref _openStreams);
        }

        JsonObject Chunk(JsonObject delta, string? finishReason) => new()
        {
            ["id"] = id,
            ["object"] = "chat.completion.chunk",
            ["created"] = created,
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
        };

        async Task SendAsync(JsonObject payload)
        {
            await http.Response.WriteAsync("data: " + payload.ToJsonString() + "\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
    }

    private static List<string> Split(string text, int pieces)
    {
        if (text.Length == 0)
        {
            return [];
        }
        var size = Math.Max(1, (int)Math.Ceiling(text.Length / (double)Math.Max(1, pieces)));
        var result = new List<string>();
        for (var i = 0; i < text.Length; i += size)
        {
            result.Add(text.Substring(i, Math.Min(size, text.Length - i)));
        }
        return result;
    }
}
