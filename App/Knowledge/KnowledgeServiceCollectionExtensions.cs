using AgentSpace.Components.Layout;
using AgentSpace.Tenancy;
using MudBlazor;

namespace AgentSpace.Knowledge;

public static class KnowledgeServiceCollectionExtensions
{
    /// <summary>The knowledge base: extraction and chunking, embeddings and retrieval, uploads and their background processing.</summary>
    public static IServiceCollection AddKnowledge(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddKnowledgeExtraction(configuration);
        services.AddKnowledgeRetrieval();
        services.AddSingleton<KnowledgeTempFiles>();
        services.AddSingleton<KnowledgeQueue>();
        services.AddScoped<KnowledgeService>();
        services.AddScoped<KnowledgeProcessor>();
        services.AddHostedService<KnowledgeIngestWorker>();
        services.AddKnowledgeImportCommand();
        services.AddOrgNavItem(new OrgNavItem("Knowledge", "knowledge", Icons.Material.Outlined.LibraryBooks, OrgRole.Viewer, 25));
        return services;
    }
}
