using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentSpace.Boardroom;

/// <summary>
/// The canonical JSON of a decision record's content (declaration order, no indentation, UTC times) and its SHA-256.
/// The same bytes are stored, hashed and audited, so a changed row no longer matches the hash in the audit chain.
/// </summary>
public static class DecisionHash
{
    private static readonly JsonSerializerOptions Canonical = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
    };

    public static string Serialize(DecisionContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var utc = content with { StartedAt = content.StartedAt.ToUniversalTime(), EndedAt = content.EndedAt.ToUniversalTime() };
        return JsonSerializer.Serialize(utc, Canonical);
    }

    public static DecisionContent Deserialize(string json) =>
        JsonSerializer.Deserialize<DecisionContent>(json, Canonical) ?? throw new InvalidDataException("Empty decision record.");

    /// <summary>Lower-case hex SHA-256 of the canonical JSON, bound to the record's id and the record it supersedes.</summary>
    public static string Of(Guid recordId, Guid? supersedesId, string canonicalJson)
    {
        ArgumentNullException.ThrowIfNull(canonicalJson);
        var text = $"{recordId:D}\n{supersedesId?.ToString("D") ?? "-"}\n{canonicalJson}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
