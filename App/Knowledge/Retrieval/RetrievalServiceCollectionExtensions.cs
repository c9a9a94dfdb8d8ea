namespace AgentSpace.Knowledge;

public static class RetrievalServiceCollectionExtensions
{
    public static IServiceCollection AddKnowledgeRetrieval(this IServiceCollection services)
    {
        services.AddOptions<KnowledgeSearchOptions>().BindConfiguration("Knowledge").Validate(o => o.EfSearch is >= 10 and <= 1000 && o.RrfK is >= 1 and <= 1000,
            "Knowledge:EfSearch must be 10 to 1000 and Knowledge:RrfK 1 to 1000.").ValidateOnStart();
        services.AddScoped<KnowledgeEmbedders>();
        services.AddScoped<IKnowledgeEmbedders>(sp => sp.GetRequiredService<KnowledgeEmbedders>());
        services.AddScoped<ChunkEmbedder>();
        services.AddScoped<KnowledgeSearch>();
        services.AddScoped<KnowledgeAttachments>();
        services.AddKnowledgeSearchCommand();
        return services;
    }
}
