using MudBlazor;

namespace AgentSpace.Components;

public static class DialogServiceExtensions
{
    /// <summary>Shows <see cref="ConfirmDialog"/>; true when the user confirmed.</summary>
    public static async Task<bool> ConfirmAsync(this IDialogService dialogs, string title, string message, string confirmText, Color color = Color.Error)
    {
        ArgumentNullException.ThrowIfNull(dialogs);
        var parameters = new DialogParameters<ConfirmDialog>
        {
            { d => d.Title, title },
            { d => d.Message, message },
            { d => d.ConfirmText, confirmText },
            { d => d.ConfirmColor, color },
        };
        var dialog = await dialogs.ShowAsync<ConfirmDialog>(title, parameters, Options);
        var result = await dialog.Result;
        return result is { Canceled: false };
    }

    /// <summary>Shows <see cref="ConfirmDialog"/> whose confirm button posts a form to <paramref name="postAction"/>.</summary>
    public static Task<IDialogReference> ConfirmPostAsync(this IDialogService dialogs, string title, string message, string confirmText, string postAction)
    {
        ArgumentNullException.ThrowIfNull(dialogs);
        var parameters = new DialogParameters<ConfirmDialog>
        {
            { d => d.Title, title },
            { d => d.Message, message },
            { d => d.ConfirmText, confirmText },
            { d => d.PostAction, postAction },
        };
        return dialogs.ShowAsync<ConfirmDialog>(title, parameters, Options);
    }

    private static readonly DialogOptions Options = new() { MaxWidth = MaxWidth.ExtraSmall, FullWidth = true, CloseOnEscapeKey = true };
}
