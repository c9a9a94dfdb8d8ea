using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Identity;

/// <summary>
/// The app on a real Kestrel socket. The in-memory test server hands the app a WebSocket feature that
/// Kestrel does not (there it comes from the WebSockets middleware, which runs later), so a WebSocket
/// handshake is only tested for real here.
/// </summary>
public sealed class KestrelAppFactory : WebAppFactory
{
    public KestrelAppFactory() => UseKestrel(0);

    public Uri Address => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
}

public sealed class BlazorHubOriginTests(KestrelAppFactory app) : IClassFixture<KestrelAppFactory>
{
    private Uri Hub(string query) => new UriBuilder(app.Address) { Scheme = "ws", Path = "/_blazor", Query = query }.Uri;

    private string SameOrigin => app.Address.GetLeftPart(UriPartial.Authority);

    /// <summary>A connection token from the negotiate POST, as the Blazor script gets one.</summary>
    private async Task<string> NegotiateAsync()
    {
        using var http = new HttpClient { BaseAddress = app.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        request.Headers.Add("Origin", SameOrigin);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("connectionToken").GetString()!;
    }

    private static async Task<string> HandshakeFailureAsync(ClientWebSocket socket, Uri uri)
    {
        var failure = await Assert.ThrowsAnyAsync<WebSocketException>(() => socket.ConnectAsync(uri, CancellationToken.None));
        return failure.Message;
    }

    [Fact]
    public async Task BlazorHub_WebSocketHandshakeWithoutOrigin_IsRefused()
    {
        var token = await NegotiateAsync();
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAnyAsync<WebSocketException>(() => socket.ConnectAsync(Hub("id=" + token), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task BlazorHub_WebSocketHandshakeFromAnotherOrigin_IsRefused()
    {
        var token = await NegotiateAsync();
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("Origin", "http://evil.example");
        Assert.Contains("403", await HandshakeFailureAsync(socket, Hub("id=" + token)), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task BlazorHub_WebSocketHandshakeFromOwnOrigin_Opens()
    {
        var token = await NegotiateAsync();
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", SameOrigin);
        await socket.ConnectAsync(Hub("id=" + token), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task BlazorHub_NegotiateWithoutOrigin_IsRefused()
    {
        using var http = new HttpClient { BaseAddress = app.Address };
        using var response = await http.PostAsync(new Uri("/_blazor/negotiate?negotiateVersion=1", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
