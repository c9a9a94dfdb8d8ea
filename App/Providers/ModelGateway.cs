using AgentSpace.Tenancy;
using AgentSpace.Vault;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Providers;

/// <summary>
/// Opens a chat client for an organization's provider and model: the provider and price are read in one short
/// unit of work, the key is opened from the vault after it, and the client is built after that; nothing here
/// holds a connection while the network is used. The caller has already checked the person's access.
/// </summary>
internal sealed class ModelGateway(TenantOperation operations, ISecretVault vault, ProviderConnector connector) : IModelGateway
{
    /// <summary>Sent to providers that need no key (a local Ollama, LM Studio): the SDKs refuse an empty one.</summary>
    internal const string NoKey = "no-key";

    public async Task<ModelConnection> ConnectAsync(Guid organizationId, ModelChoice choice, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(choice);
        if (choice.ProviderId is not { } providerId)
        {
            return new ModelConnection(new OfflineChatClient(), OfflineChatClient.Label, OfflineChatClient.ModelId, true, ModelPrice.Free);
        }
        if (string.IsNullOrWhiteSpace(choice.Model))
        {
            throw new ProviderRuleException("Choose a model for this provider.");
        }
        var found = await operations.RunAsSystemAsync(organizationId, "model-gateway.connect", async (work, token) =>
        {
            var provider = await work.Db.ModelProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId, token);
            var model = provider is null ? null : await work.Db.ProviderModels.AsNoTracking()
                .FirstOrDefaultAsync(m => m.ProviderId == providerId && m.ModelId == choice.Model, token);
            return (provider, model);
        }, ct);
        var (provider, offered) = found;
        if (provider is null)
        {
            throw new ProviderRuleException("This model provider does not exist (any more). Choose another one for the agent.", 404);
        }
        if (offered is null)
        {
            throw new ProviderRuleException($"{provider.Name} does not offer the model \"{choice.Model}\" here. An Admin can add it under Settings → Models.");
        }
        var key = await OpenKeyAsync(organizationId, provider, vault, ct);
        var client = connector.ChatClient(new ProviderEndpoint(provider.Name, provider.Kind, provider.BaseUrl, key), offered.ModelId);
        return new ModelConnection(client, provider.Name, offered.ModelId, false, new ModelPrice(offered.InputUsdPerMillion, offered.OutputUsdPerMillion));
    }

    /// <summary>The provider's key, opened outside any unit of work; <see cref="NoKey"/> when none is set.</summary>
    internal static async Task<string> OpenKeyAsync(Guid organizationId, ModelProvider provider, ISecretVault vault, CancellationToken ct)
    {
        if (provider.ApiKeyCiphertext is null || provider.ApiKeyVersion is not { } version)
        {
            return NoKey;
        }
        try
        {
            return await vault.OpenAsync(organizationId, SecretPurposes.ModelProviderApiKey, provider.Id, new SealedSecret(provider.ApiKeyCiphertext, version), ct);
        }
        catch (VaultException)
        {
            throw new ProviderRuleException($"The API key of {provider.Name} cannot be opened. An Admin can enter it again under Settings → Models.", 409);
        }
    }
}
