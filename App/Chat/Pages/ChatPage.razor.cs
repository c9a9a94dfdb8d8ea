using AgentSpace.Components;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace AgentSpace.Chat.Pages;

public sealed partial class ChatPage
{
    /// <summary>A fast stream renders at most this often, so it does not flood the circuit.</summary>
    private const int RenderEveryMs = 75;

    private ChatView? _view;
    private LiveTurn? _live;
    private string? _pendingText;
    private string? _draft;
    private string? _search;
    private Guid? _renaming;
    private string? _renameText;
    private long _lastRender;
    private bool _renderQueued;

    [Parameter]
    public Guid AgentId { get; set; }

    /// <summary>The open conversation (<c>?c=</c>).</summary>
    [SupplyParameterFromQuery(Name = "c")]
    public Guid? ConversationId { get; set; }

    [Inject]
    private ChatService ChatService { get; set; } = default!;

    [Inject]
    private ChatEngine Engine { get; set; } = default!;

    [Inject]
    private LiveRuns Runs { get; set; } = default!;

    private bool CanSend => Org?.Can(OrgRole.Member) == true;

    private bool _sourceOpen;
    private PassageView? _source;

    private async Task OpenSourceAsync(Guid messageId, int number)
    {
        PassageView? found = null;
        if (await TryAsync(async (actor, ct) => found = await ChatService.PassageAsync(actor, Slug, messageId, number, ct)))
        {
            _source = found;
            _sourceOpen = true;
        }
    }

    private bool Streaming => _live is not null;

    private Guid? LastAssistantId => _view?.Turns.LastOrDefault(t => t.Role == ChatRoles.Assistant)?.Id;

    private (Guid, Guid?) _loaded;

    protected override async Task OnParametersSetAsync()
    {
        if (_view is not null && _loaded != (AgentId, ConversationId) && !Streaming)
        {
            await ReloadAsync();
        }
        await base.OnParametersSetAsync();
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loaded = (AgentId, ConversationId);
        _view = await ChatService.OpenAsync(actor, Slug, AgentId, ConversationId, _search, ct);
        return _view.Org;
    }

    private void NewConversation() => Navigation.NavigateTo(OrgPath("chat/" + AgentId));

    private void OpenAsync(ConversationSummary conversation)
    {
        if (!Streaming && _renaming is null)
        {
            Navigation.NavigateTo(OrgPath($"chat/{conversation.AgentId}?c={conversation.Id}"));
        }
    }

    private Task SearchAsync() => ReloadAsync();

    private async Task DraftKeyAsync(KeyboardEventArgs e)
    {
        if (e.Key == "Enter" && !e.ShiftKey)
        {
            await SendAsync();
        }
    }

    private Task SendAsync()
    {
        var text = _draft?.Trim();
        if (string.IsNullOrEmpty(text) || Streaming || !CanSend)
        {
            return Task.CompletedTask;
        }
        _pendingText = text;
        _draft = "";
        return RunAsync((actor, watch, ct) => Engine.SendAsync(ChatCaller.For(actor), Slug, AgentId, _view?.Open?.Id, text, watch, ct));
    }

    private Task RetryAsync(Guid turnId) =>
        RunAsync((actor, watch, ct) => Engine.RetryAsync(ChatCaller.For(actor), Slug, turnId, watch, ct));

    private Task RegenerateAsync() => _view?.Open is { } open
        ? RunAsync((actor, watch, ct) => Engine.RegenerateAsync(ChatCaller.For(actor), Slug, open.Id, watch, ct))
        : Task.CompletedTask;

    /// <summary>
    /// Runs a turn while showing it live. The run is tied to the page: when the circuit goes away the
    /// provider call is cancelled and the turn is stored as interrupted with what was written.
    /// </summary>
    private async Task RunAsync(Func<Actor, LiveTurn, CancellationToken, Task<TurnOutcome>> run)
    {
        var watch = new LiveTurn();
        watch.Changed += OnLiveChanged;
        _live = watch;
        TurnOutcome? outcome = null;
        await TryAsync(async (actor, ct) => outcome = await run(actor, watch, ct));
        watch.Changed -= OnLiveChanged;
        _live = null;
        _pendingText = null;
        if (outcome is not null && outcome.ConversationId != ConversationId)
        {
            // A new conversation: its address, so a reload opens it.
            Navigation.NavigateTo(OrgPath($"chat/{AgentId}?c={outcome.ConversationId}"));
            return;
        }
        await ReloadAsync();
    }

    private async Task StopAsync()
    {
        if (_live is { } live)
        {
            var actor = await Actors.GetAsync();
            Runs.Stop(live.RunId, actor.UserId);
        }
    }

    private void Stop() => _ = StopAsync();

    private void OnLiveChanged()
    {
        if (_renderQueued)
        {
            return;
        }
        _renderQueued = true;
        _ = RenderSoonAsync(RenderEveryMs - (Environment.TickCount64 - _lastRender));
    }

    private async Task RenderSoonAsync(long wait)
    {
        if (wait > 0)
        {
            await Task.Delay((int)wait);
        }
        _renderQueued = false;
        _lastRender = Environment.TickCount64;
        await InvokeAsync(StateHasChanged);
    }

    private void StartRename(ConversationSummary conversation)
    {
        _renaming = conversation.Id;
        _renameText = conversation.Title;
    }

    private async Task RenameKeyAsync(KeyboardEventArgs e, ConversationSummary conversation)
    {
        if (e.Key == "Escape")
        {
            _renaming = null;
            return;
        }
        if (e.Key != "Enter")
        {
            return;
        }
        var name = _renameText ?? "";
        if (await TryAsync((actor, ct) => ChatService.RenameAsync(actor, Slug, conversation.Id, name, ct), "Conversation renamed."))
        {
            _renaming = null;
            await ReloadAsync();
        }
    }

    private async Task DeleteAsync(ConversationSummary conversation)
    {
        if (!await Dialogs.ConfirmAsync("Delete conversation?", $"\"{conversation.Title}\" and all its messages will be deleted. This cannot be undone.", "Delete"))
        {
            return;
        }
        if (await TryAsync((actor, ct) => ChatService.DeleteAsync(actor, Slug, conversation.Id, ct), "Conversation deleted."))
        {
            if (conversation.Id == _view?.Open?.Id)
            {
                Navigation.NavigateTo(OrgPath("chat/" + AgentId));
                return;
            }
            await ReloadAsync();
        }
    }
}
