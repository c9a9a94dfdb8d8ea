using AgentSpace.Agents;
using AgentSpace.Audit;
using AgentSpace.Boardroom;
using AgentSpace.Chat;
using AgentSpace.Components;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Identity;
using AgentSpace.Knowledge;
using AgentSpace.Limits;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Vault;
using AgentSpace.Workflows;

namespace AgentSpace;

/// <summary>
/// The product's features, each registered by its own <c>Add&lt;Feature&gt;()</c>, in the order they build on
/// each other. One list for the web host (Program.cs) and for the tests (service, bUnit and HTTP), so a
/// test never runs with registrations the app does not have.
/// </summary>
public static class AppFeatures
{
    public static IServiceCollection AddAppFeatures(this IServiceCollection services, IConfiguration configuration) => services
        .AddData(configuration)
        .AddEmail(configuration)
        .AddAudit()
        .AddMagicLinkIdentity(configuration)
        .AddTenancy()
        .AddVault(configuration)
        .AddProviders()
        .AddLimits()
        .AddAgents()
        .AddKnowledge(configuration)
        .AddChat()
        .AddBoardroom()
        .AddWorkflows(configuration)
        .AddAppComponents();
}
