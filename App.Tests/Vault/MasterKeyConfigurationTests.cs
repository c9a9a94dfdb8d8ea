using System.Net;
using AgentSpace.Hosting;
using AgentSpace.Tests.Hosting;
using AgentSpace.Vault;
using Microsoft.Extensions.Configuration;

namespace AgentSpace.Tests.Vault;

/// <summary>What an operator sees when the vault's master key is missing or unusable, and what Development does by itself.</summary>
public sealed class MasterKeyConfigurationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "agentspace-vault-" + Guid.NewGuid().ToString("N"));

    public MasterKeyConfigurationTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Dictionary<string, string> Production(params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            // Nothing here needs the database: a closed port proves it.
            ["ConnectionStrings__Default"] = $"Host=127.0.0.1;Port={AppDll.FreePort()};Database=none;Username=none;Password=none",
            ["App__PublicBaseUrl"] = "https://agentspace.example",
            ["Email__AllowPickupDirectory"] = "true",
            ["Email__PickupDirectory"] = Path.Combine(Path.GetTempPath(), "agentspace-vault-mail-" + Guid.NewGuid().ToString("N")),
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }
        return environment;
    }

    private static async Task<string> RefusalLineAsync(Dictionary<string, string> environment)
    {
        await using var app = AppDll.Start(environment);
        Assert.True(await app.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"The app did not refuse to start.\n{app.StandardOutput}\n{app.StandardError}");
        Assert.Equal(1, app.ExitCode);
        Assert.DoesNotContain("   at ", app.StandardOutput + app.StandardError, StringComparison.Ordinal);
        var line = Assert.Single(app.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        return line;
    }

    private MasterKeyRing Load(string environment, params (string Key, string? Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, s.Value))).Build();
        return MasterKeyRing.Load(configuration, new TestEnvironment(environment, _folder), new SecretValues());
    }

    [Fact]
    public async Task Start_ProductionWithoutMasterKey_RefusesInOneLine()
    {
        var line = await RefusalLineAsync(Production());

        Assert.Contains("Vault:MasterKey", line, StringComparison.Ordinal);
        Assert.Contains("Vault:MasterKeyFile", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MasterKeyOfWrongLength_RefusesInOneLineWithoutTheKey()
    {
        var shortKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

        var line = await RefusalLineAsync(Production(("Vault__MasterKey", shortKey)));

        Assert.Contains("Vault:MasterKey decodes to 16 bytes; it must be a base64-encoded 256-bit key (32 bytes)", line, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ProductionWithMasterKeyFile_Serves()
    {
        var file = Path.Combine(_folder, "master.key");
        await File.WriteAllTextAsync(file, VaultNode.NewKey() + "\n");
        await using var app = AppDll.Start(Production(("Vault__MasterKeyFile", file)));

        using var response = await app.GetWhenListeningAsync("/health/live", TimeSpan.FromSeconds(60));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("not base64 at all!", "is not valid base64")]
    [InlineData("c2hvcnQ=", "decodes to 5 bytes")]
    public void Load_UnusableKey_RefusesNamingTheSetting(string key, string problem)
    {
        var ex = Assert.Throws<StartupConfigurationException>(() => Load("Production", ("Vault:MasterKey", key)));

        Assert.StartsWith("Vault:MasterKey ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_RetiredKeyOfWrongLength_RefusesNamingIt()
    {
        var ex = Assert.Throws<StartupConfigurationException>(() =>
            Load("Production", ("Vault:MasterKey", VaultNode.NewKey()), ("Vault:RetiredMasterKeys:0", "c2hvcnQ=")));

        Assert.StartsWith("Vault:RetiredMasterKeys:0 decodes to 5 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingKeyFile_RefusesNamingThePath()
    {
        var missing = Path.Combine(_folder, "nope.key");

        var ex = Assert.Throws<StartupConfigurationException>(() => Load("Production", ("Vault:MasterKeyFile", missing)));

        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_KeyAndKeyFileBothSet_Refuses()
    {
        var ex = Assert.Throws<StartupConfigurationException>(() =>
            Load("Production", ("Vault:MasterKey", VaultNode.NewKey()), ("Vault:MasterKeyFile", Path.Combine(_folder, "x.key"))));

        Assert.Contains("Set one of them", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DevelopmentWithoutKey_CreatesOwnerOnlyKeyFileOnce()
    {
        var first = Load("Development");
        var file = Path.Combine(_folder, ".data", "vault-master.key");
        var second = Load("Development");

        Assert.True(File.Exists(file));
        Assert.Equal(first.Current.Id, second.Current.Id);
        Assert.Equal(32, Convert.FromBase64String(File.ReadAllText(file).Trim()).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
        Assert.Single(Directory.GetFiles(Path.Combine(_folder, ".data")));
    }

    [Fact]
    public void Load_KeyFromFile_IsRegisteredWithTheScrubber()
    {
        var key = VaultNode.NewKey();
        var file = Path.Combine(_folder, "master.key");
        File.WriteAllText(file, key + "\n");
        var secrets = new SecretValues();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create("Vault:MasterKeyFile", (string?)file)]).Build();

        var ring = MasterKeyRing.Load(configuration, new TestEnvironment("Production", _folder), secrets);

        Assert.Equal(16, ring.Current.Id.Length);
        Assert.Equal("[Filtered]", secrets.Redact(key));
    }

    [Fact]
    public void Load_SameKeyTwice_GivesTheSameIdAndRetiredKeysAreKnown()
    {
        var keyA = VaultNode.NewKey();
        var keyB = VaultNode.NewKey();
        var onlyA = Load("Production", ("Vault:MasterKey", keyA));

        var both = Load("Production", ("Vault:MasterKey", keyB), ("Vault:RetiredMasterKeys:0", keyA));

        Assert.NotEqual(onlyA.Current.Id, both.Current.Id);
        Assert.Equal([onlyA.Current.Id], both.RetiredIds);
        Assert.NotNull(both.Find(onlyA.Current.Id));
    }
}
