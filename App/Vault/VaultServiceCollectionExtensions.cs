using AgentSpace.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AgentSpace.Vault;

public static class VaultServiceCollectionExtensions
{
    public static IServiceCollection AddVault(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // The web host registers its own (with the configured secrets) in AddErrorTracking; other hosts get an empty one.
        services.TryAddSingleton<SecretValues>();
        services.AddSingleton(sp => MasterKeyRing.Load(configuration, sp.GetRequiredService<IHostEnvironment>(), sp.GetRequiredService<SecretValues>()));
        services.AddStartupCheck<VaultStartupCheck>();
        services.TryAddSingleton<TenantSecrets>();
        services.AddSingleton<ISecretVault, SecretVault>();
        services.AddSingleton<MasterKeyRotation>();
        services.AddVaultAdminCommands();
        return services;
    }
}

/// <summary>
/// Loads the master keys before the app serves: outside Development without a key, or with an unusable one,
/// the app refuses to start with one line naming the setting. In Development it creates the dev key file once.
/// </summary>
internal sealed class VaultStartupCheck(IServiceProvider services) : IStartupCheck
{
    public void Check() => services.GetRequiredService<MasterKeyRing>();
}
