using System.Net;

namespace AgentSpace.Providers;

/// <summary>
/// A provider's base URL: absolute http(s), no user info, query or fragment. Plain http only to this machine
/// (a local Ollama, LM Studio or vLLM), in Development, or where <c>Models:AllowPlainHttp</c> is set, because the
/// API key travels in every request. Link-local addresses (cloud metadata services) are refused: "Test connection"
/// shows what the server answered, and that must not become a way to read them.
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
        if (IsLinkLocal(uri))
        {
            throw new ProviderRuleException("This address is not allowed as a provider: it is a link-local (metadata service) address.");
        }
        if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback && !allowPlainHttp)
        {
            throw new ProviderRuleException("Use https: the API key is sent with every request. Plain http is allowed only to this machine (localhost).");
        }
        return uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
    }

    private static bool IsLinkLocal(Uri uri)
    {
        if (uri.Host.Equals("metadata.google.internal", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (!IPAddress.TryParse(uri.DnsSafeHost, out var address))
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var bytes = address.GetAddressBytes();
        return address.IsIPv6LinkLocal || (bytes.Length == 4 && bytes[0] == 169 && bytes[1] == 254);
    }
}
