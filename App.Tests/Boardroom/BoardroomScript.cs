using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Boardroom;

/// <summary>What a request to the recording server was, read from the prompt the engine sent.</summary>
public enum BoardroomCall
{
    Member,
    Synthesis,
    Pick,
    Record,
}

/// <summary>Reads a recorded request as a boardroom call: which kind, which agent (by the key in its instructions), which round.</summary>
public static class BoardroomScript
{
    public static BoardroomCall KindOf(RecordedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var system = request.SystemText;
        return system.Contains("Reply with that member's name only", StringComparison.Ordinal) ? BoardroomCall.Pick
            : system.Contains("decision record", StringComparison.Ordinal) ? BoardroomCall.Record
            : system.Contains("CONSENSUS: yes", StringComparison.Ordinal) ? BoardroomCall.Synthesis
            : BoardroomCall.Member;
    }

    public static bool IsFor(RecordedRequest request, string key)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The key ends its line, so one key is never taken for another that starts with it ("-c" and "-chair").
        return request.SystemText.Contains("key: " + key + "\n", StringComparison.Ordinal);
    }

    /// <summary>The round a member or synthesis call is for: the highest "Round N of" the prompt mentions.</summary>
    public static int RoundOf(RecordedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var text = request.PromptText;
        for (var round = 5; round >= 1; round--)
        {
            if (text.Contains($"Round {round} of", StringComparison.Ordinal))
            {
                return round;
            }
        }
        return 0;
    }

    private static readonly string[] Risks = ["Supplier delay"];

    public static string RecordJson(string decision, string dissenter = "", string dissent = "") =>
        System.Text.Json.JsonSerializer.Serialize(new
        {
            decision,
            rationale = "Because the numbers work.",
            options = new[] { new { option = "Do it", assessment = "Cheapest" }, new { option = "Wait", assessment = "Risky" } },
            positions = Array.Empty<object>(),
            dissent = dissenter.Length == 0 ? Array.Empty<object>() : new object[] { new { member = dissenter, reason = dissent } },
            risks = Risks,
            action_items = new[] { new { action = "Sign the contract", owner = "Legal", due = "2026-12-31" } },
            citations = Array.Empty<int>(),
        });
}
