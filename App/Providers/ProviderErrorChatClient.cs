using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AgentSpace.Providers;

/// <summary>
/// Turns an SDK failure into <see cref="ModelCallException"/> carrying the provider's own words (key redacted), so a
/// chat can show "OpenAI answered 429 Too Many Requests: Rate limit reached" rather than a generic fault.
/// </summary>
internal sealed class ProviderErrorChatClient(IChatClient inner, string providerName, Func<string, string> redact) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ProviderErrors.Describe(ex, providerName, redact) is { } described && !ReferenceEquals(described, ex))
        {
            throw described;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (updates.ConfigureAwait(false))
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        yield break;
                    }
                    update = updates.Current;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ProviderErrors.Describe(ex, providerName, redact) is { } described && !ReferenceEquals(described, ex))
                {
                    throw described;
                }
                yield return update;
            }
        }
    }
}
