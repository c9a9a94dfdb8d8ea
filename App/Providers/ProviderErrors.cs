using System.ClientModel;
using System.Net;
using System.Text.Json;
using AgentSpace.Hosting;
using Anthropic.Exceptions;
using Polly.Timeout;

namespace AgentSpace.Providers;

/// <summary>A refusal about model providers the person can act on (unknown provider, bad URL, model not offered).</summary>
public sealed class ProviderRuleException(string message, int statusCode = 400) : UserFacingException(message, statusCode);

/// <summary>
/// A provider call that failed, with the provider's own words: "OpenAI answered 401 Unauthorized: Incorrect API key
/// provided." Shown in the chat and on the Models page; never carries the API key (it is redacted from the provider's text).
/// </summary>
public sealed class ModelCallException(string message, int? providerStatus, Exception? inner)
    : UserFacingException(message, StatusCodes.Status502BadGateway)
{
    /// <summary>The provider's HTTP status, when it answered at all.</summary>
    public int? ProviderStatus { get; } = providerStatus;

    /// <summary>What the SDK threw, for logs (UserFacingException carries no inner exception).</summary>
    internal Exception? Cause { get; } = inner;
}

/// <summary>Turns what the SDKs and the HTTP pipeline throw into one sentence with the provider's real error text.</summary>
internal static class ProviderErrors
{
    private const int MaxDetailLength = 500;

    /// <summary>Null when <paramref name="error"/> is not a provider failure (a bug, or the caller cancelling).</summary>
    public static ModelCallException? Describe(Exception error, string providerName, Func<string, string> redact)
    {
        switch (error)
        {
            case ModelCallException known:
                return known;
            case ClientResultException result when result.Status > 0:
            {
                var body = TryReadBody(result);
                return Answered(providerName, result.Status, ErrorText(body) ?? LastLine(result.Message), redact, error);
            }
            case AnthropicApiException api:
                return Answered(providerName, (int)api.StatusCode, api.ApiMessage ?? ErrorText(api.ResponseBody) ?? LastLine(api.Message), redact, error);
            case TimeoutRejectedException timeout:
                return new ModelCallException($"{providerName} did not answer in time (waited {Seconds(timeout.Timeout)}).", null, error);
            case HttpRequestException http:
                return new ModelCallException($"Could not reach {providerName}: {redact(http.Message)}", null, error);
            case ClientResultException network when network.InnerException is HttpRequestException http:
                return new ModelCallException($"Could not reach {providerName}: {redact(http.Message)}", null, error);
            case ClientResultException or AnthropicException when error.InnerException is TimeoutRejectedException or HttpRequestException:
                return Describe(error.InnerException!, providerName, redact);
            case AnthropicException other:
                return new ModelCallException($"{providerName} failed: {redact(LastLine(other.Message))}", null, error);
            default:
                return error.InnerException is { } inner ? Describe(inner, providerName, redact) : null;
        }
    }

    private static ModelCallException Answered(string providerName, int status, string? text, Func<string, string> redact, Exception error)
    {
        var reason = Enum.IsDefined(typeof(HttpStatusCode), status) ? " " + SpacedName((HttpStatusCode)status) : "";
        var detail = string.IsNullOrWhiteSpace(text) ? "" : ": " + Trim(redact(text.Trim()));
        return new ModelCallException($"{providerName} answered {status}{reason}{detail}", status, error);
    }

    private static string? TryReadBody(ClientResultException result)
    {
        try
        {
            return result.GetRawResponse()?.Content?.ToString();
        }
        catch (InvalidOperationException)
        {
            // A streamed response whose body was not buffered.
            return null;
        }
    }

    /// <summary>The <c>error.message</c> of an OpenAI- or Anthropic-style error body, or the body itself when it is short text.</summary>
    internal static string? ErrorText(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                {
                    return error.GetString();
                }
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    return message.GetString();
                }
            }
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var top) && top.ValueKind == JsonValueKind.String)
            {
                return top.GetString();
            }
            return null;
        }
        catch (JsonException)
        {
            return body.Length <= MaxDetailLength && !body.Contains('<', StringComparison.Ordinal) ? body : null;
        }
    }

    private static string LastLine(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? text;
        return line;
    }

    private static string Trim(string text) => text.Length <= MaxDetailLength ? text : text[..MaxDetailLength] + "…";

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + " s";

    private static string SpacedName(HttpStatusCode status) =>
        System.Text.RegularExpressions.Regex.Replace(status.ToString(), "(?<=[a-z])(?=[A-Z])", " ");
}
