using AgentSpace.Admin;
using AgentSpace.Hosting;
using AgentSpace.Vault;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSpace.Tests.Vault;

/// <summary>
/// Another app node over the same database with its own vault settings (as after a redeploy with other keys):
/// the app's real registrations, its own <see cref="SecretValues"/>.
/// </summary>
internal sealed class VaultNode : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public VaultNode(string connectionString, string currentKey, params string[] retiredKeys)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = connectionString,
            ["App:PublicBaseUrl"] = "https://agentspace.test",
            ["Vault:MasterKey"] = currentKey,
        };
        for (var i = 0; i < retiredKeys.Length; i++)
        {
            settings[$"Vault:RetiredMasterKeys:{i}"] = retiredKeys[i];
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<IHostEnvironment>(new TestEnvironment("Testing", AppContext.BaseDirectory));
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddAppFeatures(configuration);
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    public ISecretVault Vault => _services.GetRequiredService<ISecretVault>();

    public SecretValues Secrets => _services.GetRequiredService<SecretValues>();

    public string CurrentMasterKeyId => _services.GetRequiredService<MasterKeyRing>().Current.Id;

    /// <summary>Runs an admin command as <c>App &lt;args&gt;</c> would on this node.</summary>
    public async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync(args, _services, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public static string NewKey() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}

internal sealed class TestEnvironment(string name, string contentRoot) : IHostEnvironment
{
    public string EnvironmentName { get; set; } = name;
    public string ApplicationName { get; set; } = "App";
    public string ContentRootPath { get; set; } = contentRoot;
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}
