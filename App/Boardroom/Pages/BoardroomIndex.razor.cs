using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Components;

namespace AgentSpace.Boardroom.Pages;

/// <summary>
/// The organization's sessions, and the form that convenes a new one. The form checks the obvious mistakes itself and
/// shows them by their field; what only the service can know (an agent paused a moment ago) is shown under the form.
/// </summary>
public sealed partial class BoardroomIndex
{
    private static readonly string[] Modes = [BoardroomModes.Sealed, BoardroomModes.Open];
    private static readonly string[] Orders = [SpeakerOrders.RoundRobin, SpeakerOrders.ChairPicks];

    private BoardroomHome? _home;
    private SessionForm _form = new();
    private Dictionary<string, string> _errors = new(StringComparer.Ordinal);
    private string? _formError;
    private bool _starting;

    [Inject]
    private BoardroomService Boardroom { get; set; } = default!;

    private bool CanConvene => Org?.Can(OrgRole.Member) == true;

    /// <summary>Agents that can take a seat: every one that is not paused.</summary>
    private List<BoardroomAgentOption> Seatable => _home?.Agents.Where(a => !a.Paused).ToList() ?? [];

    private IEnumerable<BoardroomAgentOption> ChairChoices => Seatable.Where(a => !_form.Members.Contains(a.Id));

    protected override async Task<OrgContext> LoadAsync(Actor actor, CancellationToken ct)
    {
        _home = await Boardroom.HomeAsync(actor, Slug, ct);
        _form = new SessionForm();
        _errors = new(StringComparer.Ordinal);
        _formError = null;
        return _home.Org;
    }

    private string AgentName(Guid? id) => _home?.Agents.FirstOrDefault(a => a.Id == id)?.Name ?? "";

    private string DocumentName(Guid id) => _home?.Documents.FirstOrDefault(d => d.Id == id)?.Name ?? "";

    private bool Has(string field) => _errors.ContainsKey(field);

    private string? ErrorOf(string field) => _errors.GetValueOrDefault(field);

    private void Clear(string field)
    {
        _errors.Remove(field);
        _formError = null;
    }

    private void ToggleMember(Guid id, bool on)
    {
        _form.Members.Remove(id);
        if (on)
        {
            _form.Members.Add(id);
            if (_form.ChairId == id)
            {
                // The chair cannot also sit as a member: the newer choice wins.
                _form.ChairId = null;
            }
        }
        Clear(nameof(SessionForm.Members));
        Clear(nameof(SessionForm.ChairId));
    }

    private void OnChairChanged(Guid? id)
    {
        _form.ChairId = id;
        Clear(nameof(SessionForm.ChairId));
    }

    private async Task StartAsync()
    {
        if (_starting || _home is null || !CanConvene)
        {
            return;
        }
        _errors = _form.Check();
        _formError = null;
        if (_errors.Count > 0)
        {
            return;
        }
        _starting = true;
        try
        {
            var input = _form.ToInput();
            Guid? started = null;
            await TryAsync(async (actor, ct) => started = await Boardroom.StartAsync(actor, Slug, input, ct), onRefused: message => _formError = message);
            if (started is { } id)
            {
                Navigation.NavigateTo(OrgPath($"boardroom/{id}"));
            }
        }
        finally
        {
            _starting = false;
        }
    }

    /// <summary>What the form holds, with the service's own bounds checked before a round trip (the service checks again).</summary>
    private sealed class SessionForm
    {
        public string? Question { get; set; }
        public string? Context { get; set; }
        /// <summary>In the order they were ticked: that is their seat, and the order they speak in.</summary>
        public List<Guid> Members { get; } = [];
        public Guid? ChairId { get; set; }
        public int Rounds { get; set; } = 3;
        public string SpeakerOrder { get; set; } = SpeakerOrders.RoundRobin;
        public string Mode { get; set; } = BoardroomModes.Sealed;
        public decimal BudgetUsd { get; set; } = 1.00m;
        public IReadOnlyCollection<Guid> Documents { get; set; } = [];

        public Dictionary<string, string> Check()
        {
            var errors = new Dictionary<string, string>(StringComparer.Ordinal);
            if (string.IsNullOrWhiteSpace(Question))
            {
                errors[nameof(Question)] = "Write the question the board should decide.";
            }
            else if (Question.Trim().Length > BoardroomLimits.MaxQuestion)
            {
                errors[nameof(Question)] = $"The question can be at most {BoardroomLimits.MaxQuestion:N0} characters.";
            }
            if ((Context ?? "").Trim().Length > BoardroomLimits.MaxContext)
            {
                errors[nameof(Context)] = $"The context can be at most {BoardroomLimits.MaxContext:N0} characters.";
            }
            if (Members.Count is < BoardroomLimits.MinMembers or > BoardroomLimits.MaxMembers)
            {
                errors[nameof(Members)] = $"Choose {BoardroomLimits.MinMembers} to {BoardroomLimits.MaxMembers} member agents.";
            }
            if (ChairId is not { } chair)
            {
                errors[nameof(ChairId)] = "Choose a chair.";
            }
            else if (Members.Contains(chair))
            {
                errors[nameof(ChairId)] = "The chair cannot also sit as a member.";
            }
            if (Rounds is < BoardroomLimits.MinRounds or > BoardroomLimits.MaxRounds)
            {
                errors[nameof(Rounds)] = $"Rounds must be between {BoardroomLimits.MinRounds} and {BoardroomLimits.MaxRounds}.";
            }
            if (BudgetUsd is < 0 or > BoardroomLimits.MaxBudgetUsd)
            {
                errors[nameof(BudgetUsd)] = $"The budget must be between $0 and ${BoardroomLimits.MaxBudgetUsd:N0}.";
            }
            if (Documents.Count > BoardroomLimits.MaxDocuments)
            {
                errors[nameof(Documents)] = $"Attach at most {BoardroomLimits.MaxDocuments} documents.";
            }
            return errors;
        }

        public SessionInput ToInput() =>
            new(Question?.Trim() ?? "", Context, [.. Members], ChairId, Rounds, SpeakerOrder, Mode, BudgetUsd, [.. Documents]);
    }
}
