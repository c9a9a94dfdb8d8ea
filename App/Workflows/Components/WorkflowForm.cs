namespace AgentSpace.Workflows.Components;

/// <summary>What the workflow editor holds while it is edited; a failed save leaves it as it was.</summary>
public sealed class WorkflowForm
{
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public List<StepForm> Steps { get; } = [];
    public string? Cron { get; set; }
    public string? TimeZone { get; set; } = "UTC";
    public bool ScheduleEnabled { get; set; }

    public static WorkflowForm From(Workflow workflow, IReadOnlyList<WorkflowStep> steps)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        ArgumentNullException.ThrowIfNull(steps);
        var form = new WorkflowForm
        {
            Name = workflow.Name,
            Description = workflow.Description,
            Cron = workflow.Cron,
            TimeZone = workflow.TimeZone,
            ScheduleEnabled = workflow.ScheduleEnabled,
        };
        form.Steps.AddRange(steps.Select(StepForm.From));
        return form;
    }

    public WorkflowInput ToInput(int version) =>
        new(Name, Description, [.. Steps.Select(s => s.ToStep())], Cron, TimeZone, ScheduleEnabled, version);
}

/// <summary>One step as the editor holds it: every kind's fields, so switching kind back and forth loses nothing typed.</summary>
public sealed class StepForm
{
    /// <summary>Keeps each step's inputs with it when steps are moved.</summary>
    public Guid Key { get; } = Guid.NewGuid();
    public string Name { get; set; } = "";
    public string Kind { get; set; } = StepKinds.Agent;
    public string Text { get; set; } = "";
    public Guid? AgentId { get; set; }
    public List<Guid> Members { get; } = [];
    public int? Rounds { get; set; }
    public string? Subject { get; set; }
    public string? Recipients { get; set; } = EmailRecipients.Members;
    public string? Method { get; set; } = "POST";
    public string? Url { get; set; }
    public string? Pattern { get; set; }
    public string? OnMatch { get; set; } = ConditionActions.Stop;

    public static StepForm From(WorkflowStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var form = new StepForm
        {
            Name = step.Name,
            Kind = step.Kind,
            Text = step.Text,
            AgentId = step.AgentId,
            Rounds = step.Rounds,
            Subject = step.Subject,
            Recipients = step.Recipients ?? EmailRecipients.Members,
            Method = step.Method ?? "POST",
            Url = step.Url,
            Pattern = step.Pattern,
            OnMatch = step.OnMatch ?? ConditionActions.Stop,
        };
        form.Members.AddRange(step.Members);
        return form;
    }

    /// <summary>The step as saved: only the fields its kind uses.</summary>
    public WorkflowStep ToStep() => Kind switch
    {
        StepKinds.Agent => new WorkflowStep { Name = Name, Kind = Kind, Text = Text, AgentId = AgentId },
        StepKinds.Boardroom => new WorkflowStep { Name = Name, Kind = Kind, Text = Text, AgentId = AgentId, Members = [.. Members], Rounds = Rounds },
        StepKinds.Email => new WorkflowStep { Name = Name, Kind = Kind, Text = Text, Subject = Subject, Recipients = Recipients },
        StepKinds.Http => new WorkflowStep { Name = Name, Kind = Kind, Text = Text, Method = Method, Url = Url },
        StepKinds.Condition => new WorkflowStep { Name = Name, Kind = Kind, Text = Text, Pattern = Pattern, OnMatch = OnMatch },
        _ => new WorkflowStep { Name = Name, Kind = Kind, Text = Text },
    };

    /// <summary>The fields the editor shows for this kind (a problem about any other field is shown under the step).</summary>
    public IReadOnlyList<string> Fields => Kind switch
    {
        StepKinds.Agent => ["name", "kind", "text", "agent"],
        StepKinds.Boardroom => ["name", "kind", "text", "agent", "members", "rounds"],
        StepKinds.Email => ["name", "kind", "text", "subject", "recipients"],
        StepKinds.Http => ["name", "kind", "text", "method", "url"],
        StepKinds.Condition => ["name", "kind", "text", "pattern", "on_match"],
        _ => ["name", "kind", "text"],
    };
}

/// <summary>The reasons a save was refused, by step (null for the workflow) and field, until the field is edited.</summary>
public sealed class FormProblems
{
    private readonly List<WorkflowProblem> _problems = [];

    public int Count => _problems.Count;

    public void Set(IEnumerable<WorkflowProblem> problems)
    {
        _problems.Clear();
        _problems.AddRange(problems);
    }

    public void Clear() => _problems.Clear();

    public void Clear(int? step, string field) => _problems.RemoveAll(p => p.Step == step && p.Field == field);

    public bool Has(int? step, string field) => _problems.Exists(p => p.Step == step && p.Field == field);

    /// <summary>Every message about this field, in one line; null when there is none.</summary>
    public string? Of(int? step, string field)
    {
        var messages = _problems.Where(p => p.Step == step && p.Field == field).Select(p => p.Message).ToList();
        return messages.Count == 0 ? null : string.Join(" ", messages);
    }

    /// <summary>The messages about <paramref name="step"/> that no shown field carries.</summary>
    public IReadOnlyList<string> Others(int? step, IReadOnlyCollection<string> shown) =>
        [.. _problems.Where(p => p.Step == step && !shown.Contains(p.Field)).Select(p => p.Message)];

    /// <summary>Messages about steps that are no longer in the list (the list changed since the save).</summary>
    public IReadOnlyList<string> Beyond(int steps) =>
        [.. _problems.Where(p => p.Step is { } i && i >= steps).Select(p => p.Message)];
}
