using System.Globalization;
using System.Text.RegularExpressions;

namespace AgentSpace.Agents;

/// <summary>
/// The rules for an agent's own fields, one function per field (null: valid), shared by the service and the
/// form. What needs the database (a unique name, a provider and its models) the service checks on top.
/// </summary>
public static partial class AgentValidation
{
    public const int MaxNameLength = 100;
    public const int MaxDescriptionLength = 1000;
    public const int MaxInstructionsLength = 20000;
    public const int MaxPauseReasonLength = 400;
    public const double MaxTemperature = 2;
    public const int MaxDailyMessageLimit = 100_000;
    public const decimal MaxRunCostCapUsd = 1_000m;
    public const decimal MaxMonthlyBudgetUsd = 1_000_000m;

    /// <summary>The tools an Admin can enable.</summary>
    public static IReadOnlyList<string> OfferedTools { get; } = [AgentTools.Memory, AgentTools.CurrentTime, AgentTools.KnowledgeSearch];

    public static string? Name(string? value)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            return "Enter a name.";
        }
        if (trimmed.Length > MaxNameLength)
        {
            return $"Use at most {MaxNameLength} characters.";
        }
        // Invisible characters would let two agents look alike in lists and in the audit log.
        return trimmed.Any(IsInvisible) ? "Use printable characters only." : null;
    }

    public static string? Colour(string? value) =>
        value is not null && ColourPattern().IsMatch(value.Trim()) ? null : "Use a colour like #3f51b5.";

    public static string? Description(string? value) =>
        (value?.Trim().Length ?? 0) > MaxDescriptionLength ? $"Use at most {MaxDescriptionLength} characters." : null;

    public static string? Instructions(string? value) =>
        (value?.Length ?? 0) > MaxInstructionsLength ? $"Use at most {MaxInstructionsLength:N0} characters." : null;

    public static string? Temperature(double value) =>
        double.IsFinite(value) && value is >= 0 and <= MaxTemperature ? null : "Use a temperature from 0 to 2.";

    public static string? DailyMessageLimit(int? value) =>
        value is null or (>= 0 and <= MaxDailyMessageLimit) ? null : $"Use 0 to {MaxDailyMessageLimit:N0} messages, or leave empty for no limit.";

    public static string? RunCostCapUsd(decimal? value) =>
        value is null || (value >= 0 && value <= MaxRunCostCapUsd) ? null : $"Use 0 to {MaxRunCostCapUsd:N0} USD, or leave empty for no cap.";

    public static string? MonthlyBudgetUsd(decimal? value) =>
        value is null || (value >= 0 && value <= MaxMonthlyBudgetUsd) ? null : $"Use 0 to {MaxMonthlyBudgetUsd:N0} USD, or leave empty for no budget.";

    public static string? Tools(IReadOnlyList<string>? value)
    {
        foreach (var tool in value ?? [])
        {
            if (!OfferedTools.Contains(tool))
            {
                return "Choose tools from the list.";
            }
        }
        return null;
    }

    public static string? PauseReason(string? value)
    {
        var trimmed = value?.Trim() ?? "";
        if (trimmed.Length > MaxPauseReasonLength)
        {
            return $"Keep the reason under {MaxPauseReasonLength} characters.";
        }
        return trimmed.Any(c => char.IsControl(c) || IsInvisible(c)) ? "Use printable characters only." : null;
    }

    /// <summary>Every rule above that fails, by <see cref="AgentInput"/> property name.</summary>
    public static Dictionary<string, string> Check(AgentInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        Add(errors, nameof(AgentInput.Name), Name(input.Name));
        Add(errors, nameof(AgentInput.Colour), Colour(input.Colour));
        Add(errors, nameof(AgentInput.Description), Description(input.Description));
        Add(errors, nameof(AgentInput.Instructions), Instructions(input.Instructions));
        Add(errors, nameof(AgentInput.Temperature), Temperature(input.Temperature));
        Add(errors, nameof(AgentInput.Tools), Tools(input.Tools));
        Add(errors, nameof(AgentInput.DailyMessageLimit), DailyMessageLimit(input.DailyMessageLimit));
        Add(errors, nameof(AgentInput.RunCostCapUsd), RunCostCapUsd(input.RunCostCapUsd));
        Add(errors, nameof(AgentInput.MonthlyBudgetUsd), MonthlyBudgetUsd(input.MonthlyBudgetUsd));
        return errors;
    }

    private static void Add(Dictionary<string, string> errors, string field, string? message)
    {
        if (message is not null)
        {
            errors[field] = message;
        }
    }

    private static bool IsInvisible(char c) =>
        char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format;

    [GeneratedRegex("^#[0-9a-fA-F]{6}$", RegexOptions.CultureInvariant)]
    private static partial Regex ColourPattern();
}
