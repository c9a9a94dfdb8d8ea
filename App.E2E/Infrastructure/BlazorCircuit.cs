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

    // No message either way for this long: the server has handled every event sent so far and rendered.
    private static readonly TimeSpan QuietTime = TimeSpan.FromMilliseconds(300);

    private readonly IPage _page;
    private readonly Lock _lock = new();
    private IWebSocket? _socket;
    private bool _rendered;
    private bool _closed;
    private DateTime _lastFrameAt;

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
                _rendered = false;
                _closed = false;
                _lastFrameAt = DateTime.UtcNow;
            }
            socket.FrameReceived += (_, frame) =>
            {
                // Once a render batch arrives, the root components are attached: their inputs and buttons work.
                var rendered = frame.Binary is { } bytes && bytes.AsSpan().IndexOf("JS.RenderBatch"u8) >= 0;
                lock (_lock)
                {
                    if (ReferenceEquals(_socket, socket))
                    {
                        _rendered |= rendered;
                        _lastFrameAt = DateTime.UtcNow;
                    }
                }
            };
            socket.FrameSent += (_, _) =>
            {
                lock (_lock)
                {
                    if (ReferenceEquals(_socket, socket))
                    {
                        _lastFrameAt = DateTime.UtcNow;
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

    /// <summary>Marks the current connection, before a full page load, so the wait that follows needs a new one.</summary>
    public IWebSocket? Mark()
    {
        lock (_lock)
        {
            return _socket;
        }
    }

    /// <summary>Waits until the page's circuit is connected and has rendered, then until it is quiet (every root component attached, first data loaded).</summary>
    public async Task WaitUntilInteractiveAsync(IWebSocket? previous)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!IsInteractive(previous))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The Blazor circuit of {_page.Url} did not connect within {Timeout.TotalSeconds:F0} s.");
            }
            await Task.Delay(50);
        }
        await WaitUntilIdleAsync();
    }

    /// <summary>
    /// Waits until the circuit has been quiet for a moment, so the server has handled what was typed and its
    /// re-render has reached the page. Needed where one field's change rewrites another (a suggested value).
    /// </summary>
    public async Task WaitUntilIdleAsync()
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            DateTime last;
            lock (_lock)
            {
                last = _lastFrameAt;
            }
            if (DateTime.UtcNow - last >= QuietTime)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The Blazor circuit of {_page.Url} did not go quiet within {Timeout.TotalSeconds:F0} s.");
            }
            await Task.Delay(50);
        }
    }

    private bool IsInteractive(IWebSocket? previous)
    {
        lock (_lock)
        {
            return _socket is not null && !ReferenceEquals(_socket, previous) && !_closed && _rendered;
        }
    }
}
