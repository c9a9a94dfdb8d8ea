using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace AgentSpace.Tests.Components;

/// <summary>
/// Base for bUnit tests: MudBlazor's services registered, JS interop loose (MudBlazor calls JS on render).
/// Disposed asynchronously, as some MudBlazor services only implement IAsyncDisposable.
/// </summary>
public abstract class ComponentTestBase : BunitContext, IAsyncLifetime
{
    protected ComponentTestBase()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await DisposeAsync();
}
