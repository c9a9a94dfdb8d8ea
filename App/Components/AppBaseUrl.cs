using AgentSpace.Identity;
using Microsoft.AspNetCore.Components;

namespace AgentSpace.Components;

public static class AppBaseUrl
{
    /// <summary>Base for links that leave the app by email: the configured public URL, else the one the browser used.</summary>
    public static string For(AppOptions options, NavigationManager navigation)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(navigation);
        return !string.IsNullOrWhiteSpace(options.PublicBaseUrl) ? options.PublicBaseUrl.TrimEnd('/') : navigation.BaseUri.TrimEnd('/');
    }
}
