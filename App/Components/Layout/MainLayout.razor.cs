using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Routing;
using Microsoft.JSInterop;
using MudBlazor;

namespace AgentSpace.Components.Layout;

public sealed partial class MainLayout
{
    // The theme choice lives in the browser's localStorage (called through Blazor's interop, no script of ours: CSP stays 'self').
    private const string ThemeKey = "agentspace-theme";

    private static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight { Primary = "#3f51b5", Secondary = "#5f6b7a", AppbarBackground = "#283593" },
        PaletteDark = new PaletteDark { Primary = "#8c9eff", Secondary = "#a0aab8" },
    };

    private MudThemeProvider? _themeProvider;
    private bool _dark;
    private bool _drawerOpen = true;
    private bool _signedIn;
    private string? _email;
    private string? _currentSlug;
    private OrgSummary? _current;

    [Inject]
    private AuthenticationStateProvider AuthState { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private CurrentOrgState OrgState { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private ILogger<MainLayout> Logger { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        // Bottom corner: messages should not cover the page's heading and first actions.
        Snackbar.Configuration.PositionClass = Defaults.Classes.Position.BottomRight;
        Navigation.LocationChanged += OnLocationChanged;
        OrgState.Changed += OnOrgsChanged;

        var user = (await AuthState.GetAuthenticationStateAsync()).User;
        _signedIn = user.Identity?.IsAuthenticated == true;
        _email = user.FindFirst(System.Security.Claims.ClaimTypes.Email)?.Value;
        _currentSlug = CurrentOrgState.SlugFromPath(Navigation.ToBaseRelativePath(Navigation.Uri));
        if (_signedIn)
        {
            try
            {
                await OrgState.RefreshAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The switcher is a convenience; the page itself still loads (and reports its own errors).
                Logger.LogWarning(ex, "Could not list the user's organizations for the layout");
            }
        }
        _current = OrgState.Find(_currentSlug);
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender || _themeProvider is null)
        {
            return;
        }
        try
        {
            var saved = await JS.InvokeAsync<string?>("localStorage.getItem", ThemeKey);
            var dark = saved is null ? await _themeProvider.GetSystemDarkModeAsync() : saved == "dark";
            if (dark != _dark)
            {
                _dark = dark;
                StateHasChanged();
            }
        }
        catch (JSDisconnectedException)
        {
        }
        catch (JSException)
        {
            // Storage disabled by the browser: keep the light theme.
        }
    }

    private async Task ToggleDarkModeAsync()
    {
        _dark = !_dark;
        try
        {
            await JS.InvokeVoidAsync("localStorage.setItem", ThemeKey, _dark ? "dark" : "light");
        }
        catch (JSException)
        {
        }
    }

    private void OnLocationChanged(object? sender, LocationChangedEventArgs e)
    {
        _currentSlug = CurrentOrgState.SlugFromPath(Navigation.ToBaseRelativePath(e.Location));
        _current = OrgState.Find(_currentSlug);
        _ = InvokeAsync(StateHasChanged);
    }

    private void OnOrgsChanged()
    {
        _current = OrgState.Find(_currentSlug);
        _ = InvokeAsync(StateHasChanged);
    }

    public void Dispose()
    {
        Navigation.LocationChanged -= OnLocationChanged;
        OrgState.Changed -= OnOrgsChanged;
    }
}
