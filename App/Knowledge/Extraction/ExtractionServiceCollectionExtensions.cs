namespace AgentSpace.Knowledge;

public static class ExtractionServiceCollectionExtensions
{
    public static IServiceCollection AddKnowledgeExtraction(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KnowledgeOptions>().Bind(configuration.GetSection(KnowledgeOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IDocumentExtractor, DocumentExtractor>();
        services.AddSingleton<DocumentChunker>();
        return services;
    }
}
