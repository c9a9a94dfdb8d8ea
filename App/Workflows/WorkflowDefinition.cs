using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace AgentSpace.Workflows;

/// <summary>
/// One step as saved. Which fields count depends on <see cref="Kind"/>: <see cref="Text"/> is the agent's prompt,
/// the knowledge query, the boardroom's question, the email's body, the request body or the text a condition
/// looks in; it may name earlier steps' outputs as <c>{{name}}</c> and a webhook's body as <c>{{input}}</c>.
/// </summary>
public sealed record WorkflowStep
{
    public string Name { get; init; } = "";
    public string Kind { get; init; } = "";
    public string Text { get; init; } = "";
    /// <summary>Agent: the agent. Boardroom: the chair.</summary>
    public Guid? AgentId { get; init; }
    /// <summary>Boardroom: the member agents.</summary>
    public IReadOnlyList<Guid> Members { get; init; } = [];
    public int? Rounds { get; init; }
    /// <summary>Email: the subject (templated like the text).</summary>
    public string? Subject { get; init; }
    /// <summary>Email: <see cref="EmailRecipients"/>.</summary>
    public string? Recipients { get; init; }
    /// <summary>HTTP: GET, POST, PUT, PATCH or DELETE.</summary>
    public string? Method { get; init; }
    /// <summary>HTTP: the address (templated; its host must be on the organization's allow-list when the step runs).</summary>
    public string? Url { get; init; }
    /// <summary>Condition: what <see cref="Text"/> is searched for (plain text, case-insensitive).</summary>
    public string? Pattern { get; init; }
    /// <summary>Condition: <see cref="ConditionActions"/>.</summary>
    public string? OnMatch { get; init; }
}

/// <summary>Whom an email step writes to.</summary>
public static class EmailRecipients
{
    public const string Members = "members";
    public const string Admins = "admins";
}

/// <summary>What a condition step does when its text contains the pattern (and the opposite when it does not).</summary>
public static class ConditionActions
{
    /// <summary>Stop the run on a match; continue otherwise.</summary>
    public const string Stop = "stop";
    /// <summary>Continue on a match; stop otherwise.</summary>
    public const string Continue = "continue";
}

/// <summary>A reason a workflow cannot be saved, with the step (0-based; null for the workflow) and field it is about.</summary>
public sealed record WorkflowProblem(int? Step, string Field, string Message);

/// <summary>Reading, checking and filling in a workflow's steps.</summary>
public static partial class WorkflowDefinition
{
    /// <summary>The name a webhook's body goes by in templates.</summary>
    public const string InputName = "input";

    public static readonly IReadOnlyList<string> Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(IReadOnlyList<WorkflowStep> steps) => JsonSerializer.Serialize(steps, Json);

    public static IReadOnlyList<WorkflowStep> Parse(string json) =>
        JsonSerializer.Deserialize<List<WorkflowStep>>(json, Json) ?? [];

    /// <summary>The names <paramref name="text"/> refers to, in order of first use.</summary>
    public static IReadOnlyList<string> References(string? text) =>
        [.. Reference().Matches(text ?? "").Select(m => m.Groups["name"].Value).Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// Every reason these steps cannot be saved: names (unique, lower-case), the fields each kind needs, lengths,
    /// and templates that name a step that is not earlier in the list. Agents and hosts are checked against the
    /// organization where the workflow is saved and run.
    /// </summary>
    public static IReadOnlyList<WorkflowProblem> Check(IReadOnlyList<WorkflowStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var problems = new List<WorkflowProblem>();
        if (steps.Count == 0)
        {
            problems.Add(new WorkflowProblem(null, "steps", "Add at least one step."));
        }
        if (steps.Count > WorkflowLimits.MaxSteps)
        {
            problems.Add(new WorkflowProblem(null, "steps", $"A workflow has at most {WorkflowLimits.MaxSteps} steps."));
            return problems;
        }
        var earlier = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            void Problem(string field, string message) => problems.Add(new WorkflowProblem(i, field, message));
            var name = step.Name ?? "";
            if (!StepName().IsMatch(name))
            {
                Problem("name", $"Step {i + 1}: a name is 1–{WorkflowLimits.MaxStepName} characters of a–z, 0–9 and _, starting with a letter.");
            }
            else if (name == InputName)
            {
                Problem("name", $"Step {i + 1}: \"{InputName}\" is the webhook's body; choose another name.");
            }
            else if (earlier.Contains(name))
            {
                Problem("name", $"Step {i + 1}: another step is already named \"{name}\".");
            }
            if (!StepKinds.All.Contains(step.Kind))
            {
                Problem("kind", $"Step {i + 1}: choose what the step does.");
                continue;
            }
            var text = step.Text ?? "";
            if (text.Length > WorkflowLimits.MaxStepText)
            {
                Problem("text", $"Step {i + 1}: at most {WorkflowLimits.MaxStepText:N0} characters.");
            }
            CheckTemplate(i, "text", text, earlier, problems);
            switch (step.Kind)
            {
                case StepKinds.Agent:
                    if (step.AgentId is null)
                    {
                        Problem("agent", $"Step {i + 1}: choose the agent.");
                    }
                    if (text.Trim().Length == 0)
                    {
                        Problem("text", $"Step {i + 1}: write the prompt.");
                    }
                    break;
                case StepKinds.Knowledge:
                    if (text.Trim().Length == 0)
                    {
                        Problem("text", $"Step {i + 1}: write the query.");
                    }
                    break;
                case StepKinds.Boardroom:
                    if (text.Trim().Length == 0)
                    {
                        Problem("text", $"Step {i + 1}: write the question.");
                    }
                    if (step.AgentId is null)
                    {
                        Problem("agent", $"Step {i + 1}: choose the chair.");
                    }
                    if (step.Members.Count is < Boardroom.BoardroomLimits.MinMembers or > Boardroom.BoardroomLimits.MaxMembers)
                    {
                        Problem("members", $"Step {i + 1}: choose {Boardroom.BoardroomLimits.MinMembers}–{Boardroom.BoardroomLimits.MaxMembers} members.");
                    }
                    else if (step.AgentId is { } chair && step.Members.Contains(chair))
                    {
                        Problem("members", $"Step {i + 1}: the chair cannot also be a member.");
                    }
                    else if (step.Members.Distinct().Count() != step.Members.Count)
                    {
                        Problem("members", $"Step {i + 1}: a member is chosen twice.");
                    }
                    if (step.Rounds is not (null or (>= Boardroom.BoardroomLimits.MinRounds and <= Boardroom.BoardroomLimits.MaxRounds)))
                    {
                        Problem("rounds", $"Step {i + 1}: rounds are {Boardroom.BoardroomLimits.MinRounds}–{Boardroom.BoardroomLimits.MaxRounds}.");
                    }
                    break;
                case StepKinds.Email:
                    if ((step.Subject ?? "").Trim().Length == 0 || step.Subject!.Length > WorkflowLimits.MaxSubject)
                    {
                        Problem("subject", $"Step {i + 1}: a subject is 1–{WorkflowLimits.MaxSubject} characters.");
                    }
                    else
                    {
                        CheckTemplate(i, "subject", step.Subject, earlier, problems);
                    }
                    if (step.Recipients is not (EmailRecipients.Members or EmailRecipients.Admins))
                    {
                        Problem("recipients", $"Step {i + 1}: choose whom to email.");
                    }
                    if (text.Trim().Length == 0)
                    {
                        Problem("text", $"Step {i + 1}: write the message.");
                    }
                    break;
                case StepKinds.Http:
                    if (!Methods.Contains(step.Method ?? ""))
                    {
                        Problem("method", $"Step {i + 1}: the method is one of {string.Join(", ", Methods)}.");
                    }
                    CheckUrl(i, step.Url, earlier, problems);
                    break;
                case StepKinds.Condition:
                    if ((step.Pattern ?? "").Length == 0 || step.Pattern!.Length > 500)
                    {
                        Problem("pattern", $"Step {i + 1}: the text to look for is 1–500 characters.");
                    }
                    if (step.OnMatch is not (ConditionActions.Stop or ConditionActions.Continue))
                    {
                        Problem("on_match", $"Step {i + 1}: choose whether a match stops or continues the run.");
                    }
                    if (text.Trim().Length == 0)
                    {
                        Problem("text", $"Step {i + 1}: say what to look in, such as {{{{{(earlier.FirstOrDefault() ?? "step_name")}}}}}.");
                    }
                    break;
            }
            if (StepName().IsMatch(name))
            {
                earlier.Add(name);
            }
        }
        return problems;
    }

    /// <summary>
    /// Fills in <c>{{name}}</c> with earlier steps' outputs and <c>{{input}}</c> with the webhook's body. With
    /// <paramref name="envelope"/>, each value goes inside the untrusted-content envelope (for what a model reads);
    /// without it, as it is (an email, a request body). Throws on a name with no value (checked before save, so
    /// only a run of an older definition meets it).
    /// </summary>
    public static string Render(string text, IReadOnlyDictionary<string, string> outputs, string? input, bool envelope) =>
        Fill(text, outputs, input, envelope, json: false);

    /// <summary>
    /// <see cref="Render"/> for an HTTP request body. When the body is written as JSON (it starts with <c>{</c> or
    /// <c>[</c>), each value is escaped as JSON string content, so an output placed inside quotes stays one string and
    /// cannot add fields or end the document.
    /// </summary>
    public static string RenderBody(string text, IReadOnlyDictionary<string, string> outputs, string? input)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Fill(text, outputs, input, envelope: false, json: text.TrimStart() is ['{' or '[', ..]);
    }

    /// <summary>
    /// Fills in each reference, a value at most <see cref="WorkflowLimits.MaxOutput"/> characters (the webhook input
    /// at most <see cref="WorkflowLimits.MaxWebhookBody"/>), the whole at most <see cref="WorkflowLimits.MaxRendered"/>:
    /// a text that names a large output many times stops with a clear error before it is built.
    /// </summary>
    private static string Fill(string text, IReadOnlyDictionary<string, string> outputs, string? input, bool envelope, bool json)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(outputs);
        var result = new System.Text.StringBuilder(Math.Min(text.Length * 2, WorkflowLimits.MaxRendered));
        var last = 0;
        foreach (Match m in Reference().Matches(text))
        {
            result.Append(text, last, m.Index - last);
            last = m.Index + m.Length;
            var name = m.Groups["name"].Value;
            var value = name == InputName ? input ?? "" : outputs.TryGetValue(name, out var output) ? output
                : throw new WorkflowRunException($"The text names {{{{{name}}}}}, which no earlier step produced.");
            var limit = name == InputName ? WorkflowLimits.MaxWebhookBody : WorkflowLimits.MaxOutput;
            if (value.Length > limit)
            {
                value = value[..limit];
            }
            if (json)
            {
                value = JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;
            }
            if (envelope)
            {
                value = Chat.UntrustedContent.Wrap(name == InputName ? "webhook input" : $"workflow step {name}", value);
            }
            if (result.Length + value.Length > WorkflowLimits.MaxRendered)
            {
                throw new WorkflowRunException($"Filled in, this step's text would be longer than {WorkflowLimits.MaxRendered:N0} characters.");
            }
            result.Append(value);
        }
        result.Append(text, last, text.Length - last);
        return result.ToString();
    }

    /// <summary><see cref="Render"/> for a URL: each value is percent-encoded, so an output cannot change the host or add to the path.</summary>
    public static string RenderUrl(string url, IReadOnlyDictionary<string, string> outputs, string? input)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(outputs);
        return Reference().Replace(url, m =>
        {
            var name = m.Groups["name"].Value;
            var value = name == InputName ? input ?? "" : outputs.TryGetValue(name, out var output) ? output
                : throw new WorkflowRunException($"The address names {{{{{name}}}}}, which no earlier step produced.");
            return Uri.EscapeDataString(value.Length > 2000 ? value[..2000] : value);
        });
    }

    private static void CheckTemplate(int index, string field, string text, HashSet<string> earlier, List<WorkflowProblem> problems)
    {
        foreach (var name in References(text))
        {
            if (name != InputName && !earlier.Contains(name))
            {
                problems.Add(new WorkflowProblem(index, field,
                    $"Step {index + 1}: {{{{{name}}}}} is not the name of an earlier step (use one of: {Names(earlier)})."));
            }
        }
        if (UnclosedReference().IsMatch(Reference().Replace(text, "")))
        {
            problems.Add(new WorkflowProblem(index, field, $"Step {index + 1}: a {{{{ is not a step name in lower case closed by }}}}, such as {{{{summary}}}}."));
        }
    }

    private static void CheckUrl(int index, string? url, HashSet<string> earlier, List<WorkflowProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > WorkflowLimits.MaxUrl)
        {
            problems.Add(new WorkflowProblem(index, "url", $"Step {index + 1}: an address is 1–{WorkflowLimits.MaxUrl} characters."));
            return;
        }
        CheckTemplate(index, "url", url, earlier, problems);
        // The host is fixed when the workflow is saved: templates may fill in the path and query only.
        var sample = Reference().Replace(url, "x");
        if (!Uri.TryCreate(sample, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("https" or "http") || parsed.Host.Length == 0)
        {
            problems.Add(new WorkflowProblem(index, "url", $"Step {index + 1}: the address must be an http:// or https:// URL."));
            return;
        }
        var authority = url.Split("://", 2)[1].Split(['/', '?', '#'], 2)[0];
        if (Reference().IsMatch(authority))
        {
            problems.Add(new WorkflowProblem(index, "url", $"Step {index + 1}: the host cannot come from a template; write it out."));
        }
        if (parsed.UserInfo.Length > 0)
        {
            problems.Add(new WorkflowProblem(index, "url", $"Step {index + 1}: the address cannot hold a user name or password."));
        }
    }

    private static string Names(HashSet<string> earlier) =>
        string.Join(", ", earlier.Prepend(InputName).Select(n => "{{" + n + "}}"));

    /// <summary>Cuts an output to what later steps may see.</summary>
    public static string Keep(string text) =>
        text.Length <= WorkflowLimits.MaxOutput ? text : string.Create(CultureInfo.InvariantCulture, $"{text[..(WorkflowLimits.MaxOutput - 40)]}\n[cut at {WorkflowLimits.MaxOutput:N0} characters]");

    internal static string Describe(WorkflowStep step) => step.Kind switch
    {
        StepKinds.Agent => "Agent prompt",
        StepKinds.Knowledge => "Knowledge query",
        StepKinds.Boardroom => "Boardroom session",
        StepKinds.Email => "Email to members",
        StepKinds.Http => "HTTP request",
        StepKinds.Condition => "Condition",
        _ => step.Kind,
    };

    [GeneratedRegex(@"\{\{\s*(?<name>[a-z][a-z0-9_]*)\s*\}\}", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();

    [GeneratedRegex(@"\{\{", RegexOptions.CultureInvariant)]
    private static partial Regex UnclosedReference();

    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,39}$", RegexOptions.CultureInvariant)]
    private static partial Regex StepName();
}

/// <summary>A run cannot go on (a step's input is missing, an agent is gone). The message is safe to show.</summary>
public sealed class WorkflowRunException(string message) : Exception(message);
