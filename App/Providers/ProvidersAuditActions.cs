namespace AgentSpace.Providers;

/// <summary>
/// The audit actions model providers write. Details name the provider, its kind and URL and the models; never the
/// API key, nor its masked hint (a key change is recorded as "replaced", nothing more).
/// </summary>
public static class ProvidersAuditActions
{
    public const string ProviderCreated = "provider.created";
    public const string ProviderUpdated = "provider.updated";
    public const string ProviderDeleted = "provider.deleted";
    public const string ApiKeySet = "provider.api_key_set";
    public const string ApiKeyRemoved = "provider.api_key_removed";
    public const string ModelsAdded = "provider.models_added";
    public const string ModelPriced = "provider.model_priced";
    public const string ModelRemoved = "provider.model_removed";
}
