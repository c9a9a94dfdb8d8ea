using System.Globalization;
using AgentSpace.Agents;
using AgentSpace.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Knowledge.Components;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.Extensions.Options;
using MudBlazor;

namespace AgentSpace.Knowledge.Pages;

public sealed partial class KnowledgeIndex
{
    private const int MaxFilesAtOnce = 20;

    private KnowledgeOverview? _overview;
    private readonly List<UploadLine> _uploadLines = [];
    private bool _uploading;
    private bool _watching;
    private string? _query;
    private IReadOnlyList<KnowledgeHit>? _hits;

    [Inject]
    private KnowledgeService Knowledge { get; set; } = default!;

    [Inject]
    private KnowledgeSearch Search { get; set; } = default!;

    [Inject]
    private KnowledgeAttachments Attachments { get; set; } = default!;

    [Inject]
    private AgentService AgentService { get; set; } = default!;

    [Inject]
    private IOptions<KnowledgeOptions> Options { get; set; } = default!;

    private bool CanUpload => Org?.Can(OrgRole.Member) == true;

    private bool CanAttach => Org?.Can(OrgRole.Admin) == true;

    private double QuotaPercent => _overview is { QuotaBytes: > 0 } o ? Math.Min(100, 100.0 * o.UsedBytes / o.QuotaBytes) : 0;

    private KnowledgeSettingsView? _settings;
    private string? _embedderChoice;
    private string? _embeddingModel;
    private string? _language;

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _overview = await Knowledge.ListAsync(actor, Slug, ct);
        ShowSettings(await Knowledge.GetSettingsAsync(actor, Slug, ct));
        StartWatching();
        return _overview.Org;
    }

    private void ShowSettings(KnowledgeSettingsView settings)
    {
        _settings = settings;
        _embedderChoice = settings.ProviderId?.ToString() ?? "";
        _embeddingModel = settings.Model;
        _language = settings.Language;
    }

    private async Task SaveSettingsAsync()
    {
        Guid? provider = Guid.TryParse(_embedderChoice, out var id) ? id : null;
        KnowledgeSettingsView? saved = null;
        await BusyAsync(() => TryAsync(async (actor, ct) => saved = await Knowledge.SaveSettingsAsync(actor, Slug, provider, _embeddingModel, _language ?? "", ct),
            "Knowledge settings saved."));
        if (saved is not null)
        {
            ShowSettings(saved);
        }
    }

    private async Task ReembedAsync()
    {
        var count = 0;
        if (await BusyTryAsync(() => TryAsync(async (actor, ct) => count = await Knowledge.StartReembedAsync(actor, Slug, ct))))
        {
            Snackbar.Add(count == 0 ? "Nothing to re-embed." : $"Re-embedding {count} document(s) in the background.", Severity.Info);
        }
        await RefreshAsync();
        await TryAsync(async (actor, ct) => ShowSettings(await Knowledge.GetSettingsAsync(actor, Slug, ct)));
    }

    private async Task<bool> BusyTryAsync(Func<Task<bool>> action)
    {
        var ok = false;
        await BusyAsync(async () => ok = await action());
        return ok;
    }

    private bool CanDelete(DocumentRow document) =>
        Org?.Can(OrgRole.Admin) == true || (Org?.Can(OrgRole.Member) == true && _me is { } me && document.UploadedBy == me);

    private Guid? _me;

    protected override async Task OnInitializedAsync() => _me = (await Actors.GetAsync()).UserId;

    private async Task UploadAsync(IReadOnlyList<IBrowserFile>? files)
    {
        if (files is null || files.Count == 0 || _uploading)
        {
            return;
        }
        _uploading = true;
        _uploadLines.Clear();
        StateHasChanged();
        try
        {
            var limit = Options.Value.MaxFileBytes;
            foreach (var file in files)
            {
                var name = DocumentNames.Sanitize(file.Name);
                if (file.Size > limit)
                {
                    _uploadLines.Add(new UploadLine($"{name} is larger than the limit of {KnowledgeService.Megabytes(limit)} per file.", true));
                    continue;
                }
                UploadResult? result = null;
                string? refusal = null;
                try
                {
                    await TryAsync(async (actor, ct) =>
                    {
                        // One byte over the limit is allowed through the browser's stream so the service's own count refuses it.
                        await using var stream = file.OpenReadStream(limit + 1, ct);
                        result = await Knowledge.UploadAsync(actor, Slug, file.Name, stream, ct);
                    }, onRefused: message => refusal = message);
                }
                catch (IOException)
                {
                    refusal = $"{name} could not be read from the browser. Try again.";
                }
                _uploadLines.Add(result is not null ? new UploadLine(result.Message, false) : new UploadLine(refusal ?? $"{name} was not uploaded.", true));
                StateHasChanged();
            }
        }
        finally
        {
            _uploading = false;
        }
        await RefreshAsync();
    }

    private async Task DeleteAsync(DocumentRow document)
    {
        if (!await Dialogs.ConfirmAsync($"Delete {document.Name}?",
                "The document's text, passages and vectors are deleted, and no agent can cite it any more. This cannot be undone.", "Delete document"))
        {
            return;
        }
        await BusyAsync(() => TryAsync((actor, ct) => Knowledge.DeleteAsync(actor, Slug, document.Id, ct), $"{document.Name} was deleted."));
        await RefreshAsync();
    }

    private async Task AttachAsync(DocumentRow document)
    {
        IReadOnlyList<AttachDocumentDialog.AgentChoice> agents = [];
        IReadOnlySet<Guid> attached = new HashSet<Guid>();
        if (!await TryAsync(async (actor, ct) =>
            {
                var list = await AgentService.ListAsync(actor, Slug, ct);
                agents = [.. list.Agents.Select(a => new AttachDocumentDialog.AgentChoice(a.Id, a.Name))];
                attached = (await Attachments.AgentsOfDocumentAsync(actor, Slug, document.Id, ct)).ToHashSet();
            }))
        {
            return;
        }
        if (await AttachDocumentDialog.AskAsync(Dialogs, document.Name, agents, attached) is not { } chosen)
        {
            return;
        }
        await BusyAsync(() => TryAsync(async (actor, ct) =>
        {
            foreach (var id in chosen.Except(attached))
            {
                await Attachments.AttachAsync(actor, Slug, id, document.Id, ct);
            }
            foreach (var id in attached.Except(chosen))
            {
                await Attachments.DetachAsync(actor, Slug, id, document.Id, ct);
            }
        }, "Attachments saved."));
        await RefreshAsync();
    }

    private async Task SearchAsync()
    {
        if (string.IsNullOrWhiteSpace(_query))
        {
            return;
        }
        var query = _query;
        await BusyAsync(() => TryAsync(async (actor, ct) => _hits = await Search.SearchAsync(actor, Slug, query, KnowledgeScope.AllDocuments, 10, ct)));
    }

    private async Task RefreshAsync()
    {
        if (NotFound)
        {
            return;
        }
        try
        {
            var actor = await Actors.GetAsync();
            _overview = await Knowledge.ListAsync(actor, Slug, PageToken);
            Observe(_overview.Org);
            StartWatching();
        }
        catch (OrgNotFoundException)
        {
            await ReloadAsync();
        }
        catch (UserFacingException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
        catch (OperationCanceledException) when (PageToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>While any document is being processed, the list refreshes every second (status and progress).</summary>
    private void StartWatching()
    {
        if (_watching || _overview?.AnyWorking != true)
        {
            return;
        }
        _watching = true;
        _ = InvokeAsync(async () =>
        {
            try
            {
                while (_overview?.AnyWorking == true && !PageToken.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), PageToken);
                    await RefreshAsync();
                    StateHasChanged();
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _watching = false;
            }
        });
    }

    private static string SizeText(long bytes) => KnowledgeService.Megabytes(bytes);

    private static string Position(KnowledgeHit hit)
    {
        var parts = new List<string>();
        if (hit.Page is { } page)
        {
            parts.Add("page " + page.ToString(CultureInfo.InvariantCulture));
        }
        if (hit.HeadingPath.Length > 0)
        {
            parts.Add(hit.HeadingPath);
        }
        return parts.Count == 0 ? "" : " · " + string.Join(" · ", parts);
    }

    private static string Score(double? score, int? rank) =>
        score is { } s && rank is { } r ? string.Create(CultureInfo.InvariantCulture, $"{s:0.000} (#{r})") : "—";

    private static string Snippet(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private sealed record UploadLine(string Text, bool Failed);
}
