using System.Net;

namespace AgentSpace.Providers;

/// <summary>
/// A provider's base URL: absolute http(s), no user info, query or fragment. Plain http only to this machine
/// (a local Ollama, LM Studio or vLLM), in Development, or where <c>Models:AllowPlainHttp</c> is set, because the
/// API key travels in every request. Link-local addresses and cloud metadata services are refused (the rules of
/// <see cref="ProviderAddress"/>): "Test connection" shows what the server answered, and that must not become a way
/// to read them. Here only the URL as written is checked; names are checked again after DNS, at connect time.
/// </summary>
internal static class ProviderUrl
{
    public static string Normalize(string? raw, bool allowPlainHttp)
    {
        var text = raw?.Trim() ?? "";
        if (text.Length == 0)
        {
            throw new ProviderRuleException("Enter the provider's base URL, for example https://api.openai.com/v1.");
        }
        if (text.Length > 500 || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new ProviderRuleException("The base URL must be a full http or https address, for example https://api.openai.com/v1.");
        }
        if (!string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new ProviderRuleException("The base URL must not contain a user name, password, query or fragment. Enter the API key in its own field.");
        }
        if (Refusal(uri) is { } reason)
        {
            throw new ProviderRuleException($"This address is not allowed as a provider: it is {reason}.");
        }
        if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback && !allowPlainHttp)
        {
            throw new ProviderRuleException("Use https: the API key is sent with every request. Plain http is allowed only to this machine (localhost).");
        }
        return uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    // Names of metadata services, compared without the trailing dot that makes a name fully qualified. Any other name
    // that resolves to such an address is refused when the connection is made (ProviderAddress.ConnectAsync).
    private static readonly string[] MetadataNames = ["metadata.google.internal", "instance-data.ec2.internal"];

    private static string? Refusal(Uri uri)
    {
        var host = uri.DnsSafeHost.TrimEnd('.');
        if (MetadataNames.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            return "a cloud metadata service";
        }
        return IPAddress.TryParse(host, out var address) ? ProviderAddress.Refusal(address) : null;
    }
}
