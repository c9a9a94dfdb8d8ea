using System.Globalization;
using System.Text.Json;

namespace AgentSpace.Audit.Components;

/// <summary>How audit events read on screen.</summary>
public static class AuditFormat
{
    public static string Time(DateTime occurredAt) =>
        (occurredAt.Kind == DateTimeKind.Local ? occurredAt.ToUniversalTime() : occurredAt).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>The details object as "key: value · key: value"; the raw text when it is not a flat JSON object.</summary>
    public static string Details(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return "";
        }
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return json;
            }
            return string.Join(" · ", doc.RootElement.EnumerateObject().Select(p =>
                $"{p.Name}: {(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText())}"));
        }
        catch (JsonException)
        {
            return json;
        }
    }
}
