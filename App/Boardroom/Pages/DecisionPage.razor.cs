using System.Globalization;
using AgentSpace.Components;
using AgentSpace.Boardroom.Components;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Boardroom.Pages;

/// <summary>
/// One decision record, whole and structured, with its integrity against the audit log, its history and exports. The
/// newest version can be superseded: the change is a new version, and this one stays as it was finalized.
/// </summary>
public sealed partial class DecisionPage
{
    private DecisionDetail? _detail;
    private bool _missing;
    private Guid? _loadedFor;
    private SupersedeForm? _edit;
    private Dictionary<string, string> _editErrors = new(StringComparer.Ordinal);
    private string? _editError;
    private bool _saving;

    [Parameter]
    public Guid RecordId { get; set; }

    [Inject]
    private BoardroomService Boardroom { get; set; } = default!;

    /// <summary>Members change a record, and only its newest version.</summary>
    private bool CanSupersede => Org?.Can(OrgRole.Member) == true && _detail?.Record.SupersededById is null;

    private List<BreadcrumbItem> Breadcrumbs =>
    [
        new("Decisions", OrgPath("decisions")),
        new(_detail is null ? "Decision record" : BoardroomFormat.Cut(_detail.Record.Content.Question, 60), href: null, disabled: true),
    ];

    protected override async Task OnParametersSetAsync()
    {
        await base.OnParametersSetAsync();
        // The same page object serves another version (a history link, or the version just saved).
        if (_loadedFor is not null && _loadedFor != RecordId)
        {
            await ReloadAsync();
        }
    }

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _loadedFor = RecordId;
        _missing = false;
        _edit = null;
        _editError = null;
        _editErrors = new(StringComparer.Ordinal);
        try
        {
            _detail = await Boardroom.DecisionAsync(actor, Slug, RecordId, ct);
            return _detail.Org;
        }
        catch (BoardroomNotFoundException)
        {
            _missing = true;
            _detail = null;
            return await Organizations.GetAsync(actor, Slug, ct);
        }
    }

    private string VersionOf(Guid id) =>
        _detail?.History.FirstOrDefault(v => v.Id == id)?.Version.ToString(CultureInfo.InvariantCulture) ?? "?";

    private static string Duration(TimeSpan span) => span.TotalMinutes >= 1
        ? $"{(int)span.TotalMinutes} min {span.Seconds} s"
        : $"{Math.Max(0, (int)Math.Round(span.TotalSeconds))} s";

    private bool HasEdit(string field) => _editErrors.ContainsKey(field);

    private string? EditErrorOf(string field) => _editErrors.GetValueOrDefault(field);

    private void ClearEdit(string field)
    {
        _editErrors.Remove(field);
        _editError = null;
    }

    private void StartEdit()
    {
        if (_detail is not null && CanSupersede)
        {
            _edit = SupersedeForm.From(_detail.Record.Content);
            _editErrors = new(StringComparer.Ordinal);
            _editError = null;
        }
    }

    private void CancelEdit() => _edit = null;

    private void AddAction() => _edit?.Actions.Add(new ActionRow());

    private void RemoveAction(ActionRow row)
    {
        _edit?.Actions.Remove(row);
        ClearEdit(nameof(SupersedeForm.Actions));
    }

    private async Task SaveEditAsync()
    {
        if (_saving || _edit is null || _detail is null || !CanSupersede)
        {
            return;
        }
        _editErrors = _edit.Check();
        _editError = null;
        if (_editErrors.Count > 0)
        {
            return;
        }
        if (!await Dialogs.ConfirmAsync("Save a new version?", "The current record stays as it is; a new version replaces it.", "Save new version", Color.Primary))
        {
            return;
        }
        _saving = true;
        try
        {
            var edit = _edit.ToEdit();
            var recordId = _detail.Record.Id;
            Guid? saved = null;
            await TryAsync(async (actor, ct) => saved = await Boardroom.SupersedeAsync(actor, Slug, recordId, edit, ct), onRefused: message => _editError = message);
            if (saved is { } id)
            {
                Snackbar.Add("New version saved.", Severity.Success);
                Navigation.NavigateTo(OrgPath($"decisions/{id}"));
            }
        }
        finally
        {
            _saving = false;
        }
    }

    private sealed class ActionRow
    {
        public string? Action { get; set; }
        public string? Owner { get; set; }
        public DateTime? Due { get; set; }

        public bool IsBlank => string.IsNullOrWhiteSpace(Action) && string.IsNullOrWhiteSpace(Owner) && Due is null;
    }

    /// <summary>The editable part of a record, with the service's bounds checked before a round trip (the service checks again).</summary>
    private sealed class SupersedeForm
    {
        public const int MaxDecision = 4000;
        public const int MaxRationale = 8000;
        public const int MaxReason = 500;
        public const int MaxAction = 1000;
        public const int MaxOwner = 200;
        public const int MaxItems = 50;

        public string? Decision { get; set; }
        public string? Rationale { get; set; }
        /// <summary>One risk per line.</summary>
        public string? Risks { get; set; }
        public List<ActionRow> Actions { get; } = [];
        public string? Reason { get; set; }

        public static SupersedeForm From(DecisionContent content)
        {
            var form = new SupersedeForm { Decision = content.Decision, Rationale = content.Rationale, Risks = string.Join('\n', content.Risks) };
            form.Actions.AddRange(content.ActionItems.Select(a => new ActionRow
            {
                Action = a.Action,
                Owner = a.Owner,
                Due = a.Due?.ToDateTime(TimeOnly.MinValue),
            }));
            return form;
        }

        private List<string> RiskLines => [.. (Risks ?? "").Split('\n').Select(r => r.Trim()).Where(r => r.Length > 0)];

        private List<ActionRow> Filled => [.. Actions.Where(a => !a.IsBlank)];

        public Dictionary<string, string> Check()
        {
            var errors = new Dictionary<string, string>(StringComparer.Ordinal);
            var decision = (Decision ?? "").Trim();
            if (decision.Length == 0)
            {
                errors[nameof(Decision)] = "Write the decision.";
            }
            else if (decision.Length > MaxDecision)
            {
                errors[nameof(Decision)] = $"The decision can be at most {MaxDecision:N0} characters.";
            }
            if ((Rationale ?? "").Length > MaxRationale)
            {
                errors[nameof(Rationale)] = $"The rationale can be at most {MaxRationale:N0} characters.";
            }
            if (RiskLines.Count > MaxItems)
            {
                errors[nameof(Risks)] = $"At most {MaxItems} risks.";
            }
            var actions = Filled;
            if (actions.Count > MaxItems)
            {
                errors[nameof(Actions)] = $"At most {MaxItems} action items.";
            }
            else if (actions.Any(a => string.IsNullOrWhiteSpace(a.Action)))
            {
                errors[nameof(Actions)] = "Each action item needs an action; remove the rows you do not want.";
            }
            var reason = (Reason ?? "").Trim();
            if (reason.Length == 0)
            {
                errors[nameof(Reason)] = "Say why the record changes.";
            }
            else if (reason.Length > MaxReason)
            {
                errors[nameof(Reason)] = $"The reason can be at most {MaxReason:N0} characters.";
            }
            return errors;
        }

        public DecisionEdit ToEdit() => new(
            (Decision ?? "").Trim(),
            (Rationale ?? "").Trim(),
            RiskLines,
            [.. Filled.Select(a => new ActionItem((a.Action ?? "").Trim(), (a.Owner ?? "").Trim(), a.Due is { } due ? DateOnly.FromDateTime(due) : null))],
            (Reason ?? "").Trim());
    }
}
