using Microsoft.Playwright;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>
/// Watches a page's Blazor Server connection. Interactive pages are prerendered: the HTML is there (and
/// typeable) before the circuit is up, but typing then is lost and clicks do nothing. Wait for the
/// circuit after every full page load of an interactive page.
/// </summary>
public sealed class BlazorCircuit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    // The handshake answer, then the first render batch of the attached root components.
    private const int FramesWhenInteractive = 2;

    private readonly IPage _page;
    private readonly Lock _lock = new();
    private IWebSocket? _socket;
    private int _frames;
    private bool _closed;

    private BlazorCircuit(IPage page)
    {
        _page = page;
        page.WebSocket += (_, socket) =>
        {
            if (!socket.Url.Contains("/_blazor", StringComparison.Ordinal))
            {
                return;
            }
            lock (_lock)
            {
                _socket = socket;
                _frames = 0;
                _closed = false;
            }
            socket.FrameReceived += (_, _) =>
            {
                lock (_lock)
                {
                    if (ReferenceEquals(_socket, socket))
                    {
                        _frames++;
                    }
                }
            };
            socket.Close += (_, _) =>
            {
                lock (_lock)
                {
                    if (ReferenceEquals(_socket, socket))
                    {
                        _closed = true;
                    }
                }
            };
        };
    }

    public static BlazorCircuit Watch(IPage page) => new(page);

    /// <summary>Waits until the page's circuit is connected and has rendered, then until the network is quiet.</summary>
    public async Task WaitUntilInteractiveAsync()
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!IsInteractive())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The Blazor circuit of {_page.Url} did not connect within {Timeout.TotalSeconds:F0} s.");
            }
            await Task.Delay(50);
        }
        await _page.WaitForLoadStateAsync(LoadState.NetworkIdle);
    }

    private bool IsInteractive()
    {
        lock (_lock)
        {
            return _socket is not null && !_closed && _frames >= FramesWhenInteractive;
        }
    }
}
