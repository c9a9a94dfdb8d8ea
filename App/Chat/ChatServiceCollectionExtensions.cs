using AgentSpace.Components.Layout;
using AgentSpace.Hosting;
using AgentSpace.Tenancy;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MudBlazor;

namespace AgentSpace.Chat;

public static class ChatServiceCollectionExtensions
{
    public static IServiceCollection AddChat(this IServiceCollection services)
    {
        // The host registers the process's secrets (configured keys; the vault adds what it opens); service-only hosts get an empty set.
        services.TryAddSingleton<SecretValues>();
        services.AddSingleton<LiveRuns>();
        services.TryAddSingleton<Vault.TenantSecrets>();
        services.AddSingleton<OutputFilter>();
        services.AddOptions<ChatAnswerOptions>()
            .BindConfiguration(ChatAnswerOptions.Section)
            .Validate(o => o.MaxAnswerChars is >= 1000 and <= 1_000_000, "Chat:MaxAnswerChars must be between 1000 and 1000000.")
            .Validate(o => o.MaxAnswerDuration > TimeSpan.Zero, "Chat:MaxAnswerDuration must be positive.")
            .ValidateOnStart();
        services.AddSingleton<MarkdownRenderer>();
        services.AddSingleton<ChatEngine>();
        services.AddScoped<ChatTenant>();
        services.AddScoped<ChatService>();
        services.AddChatAdminCommands();
        services.AddOrgNavItem(new OrgNavItem("Chat", "chat", Icons.Material.Outlined.Forum, OrgRole.Viewer, 20));
        return services;
    }
}
