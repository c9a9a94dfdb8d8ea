using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace AgentSpace.Boardroom.Components;

public sealed partial class BoardroomTurnView
{
    [Parameter, EditorRequired]
    public BoardroomTurn Turn { get; set; } = default!;

    /// <summary>Whether the session runs here now: a turn left streaming otherwise was cut off when its process went away.</summary>
    [Parameter]
    public bool SessionRunning { get; set; }

    private string? StatusText => Turn.Status switch
    {
        BoardroomTurnStatus.Streaming => SessionRunning ? "Speaking" : "Interrupted",
        BoardroomTurnStatus.Stopped => "Stopped",
        BoardroomTurnStatus.Failed => "Failed",
        BoardroomTurnStatus.Withheld => "Withheld",
        _ => null,
    };

    private Color StatusColour => Turn.Status is BoardroomTurnStatus.Failed or BoardroomTurnStatus.Withheld ? Color.Error : Color.Warning;

    private string? ModelText => (Turn.ProviderLabel, Turn.Model) switch
    {
        ({ Length: > 0 } label, { Length: > 0 } model) when label != model => $"{label} {model}",
        ({ Length: > 0 } label, _) => label,
        (_, { Length: > 0 } model) => model,
        _ => null,
    };

    private string KindIcon => Turn.Kind switch
    {
        TurnKinds.Note => Icons.Material.Outlined.StickyNote2,
        TurnKinds.Synthesis => Icons.Material.Outlined.Summarize,
        TurnKinds.Pick => Icons.Material.Outlined.RecordVoiceOver,
        TurnKinds.Record => Icons.Material.Outlined.Gavel,
        _ => Icons.Material.Outlined.SmartToy,
    };

    private string? Accent => Turn.Kind switch
    {
        TurnKinds.Synthesis or TurnKinds.Record => "border-left: 4px solid var(--mud-palette-primary)",
        TurnKinds.Note => "border-left: 4px solid var(--mud-palette-warning); background: var(--mud-palette-background-gray)",
        _ => null,
    };
}
