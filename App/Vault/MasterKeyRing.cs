using System.Security.Cryptography;
using System.Text;
using AgentSpace.Hosting;

namespace AgentSpace.Vault;

/// <summary>A key-encryption key: 32 bytes that never enter the database, and the fingerprint stored in their place.</summary>
public sealed class MasterKey
{
    private readonly byte[] _key;

    internal MasterKey(byte[] key)
    {
        _key = key;
        Id = Fingerprint(key);
    }

    /// <summary>First 16 hex digits of SHA-256("agentspace-master-key-id" || key): names the key without revealing it.</summary>
    public string Id { get; }

    internal ReadOnlySpan<byte> Bytes => _key;

    internal static string Fingerprint(ReadOnlySpan<byte> key)
    {
        var label = "agentspace-master-key-id"u8;
        var input = new byte[label.Length + key.Length];
        label.CopyTo(input);
        key.CopyTo(input.AsSpan(label.Length));
        return Convert.ToHexStringLower(SHA256.HashData(input))[..16];
    }
}

/// <summary>
/// The master keys this process knows: the current one, which wraps every new or re-wrapped data key, and
/// retired ones, which only unwrap data keys not yet re-wrapped (<c>keys rotate</c>). Read once from
/// <c>Vault:*</c> settings; an unusable setting is refused with one line naming it, never its value.
/// </summary>
public sealed class MasterKeyRing
{
    public const string Section = "Vault";
    public const string KeyLength = "a base64-encoded 256-bit key (32 bytes)";
    public const string Generate = "Generate one with: openssl rand -base64 32";

    /// <summary>Where Development keeps its key when none is configured (relative to the content root; <c>./run.sh</c> creates it too).</summary>
    public const string DevelopmentKeyFile = ".data/vault-master.key";

    private readonly Dictionary<string, MasterKey> _byId;

    private MasterKeyRing(MasterKey current, IEnumerable<MasterKey> retired)
    {
        Current = current;
        _byId = new Dictionary<string, MasterKey>(StringComparer.Ordinal) { [current.Id] = current };
        foreach (var key in retired)
        {
            _byId.TryAdd(key.Id, key);
        }
    }

    public MasterKey Current { get; }

    /// <summary>Ids of the retired keys (readable, never used to wrap).</summary>
    public IReadOnlyList<string> RetiredIds => [.. _byId.Keys.Where(id => id != Current.Id).Order(StringComparer.Ordinal)];

    public MasterKey? Find(string id) => _byId.GetValueOrDefault(id);

    /// <summary>
    /// Reads the keys from configuration; in Development with no current key configured, uses (and once creates)
    /// <see cref="DevelopmentKeyFile"/>. Each key's base64 text is added to <paramref name="secrets"/>.
    /// </summary>
    /// <exception cref="StartupConfigurationException">A key is missing, unreadable, not base64 or not 32 bytes.</exception>
    public static MasterKeyRing Load(IConfiguration configuration, IHostEnvironment environment, SecretValues secrets)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(secrets);
        var section = configuration.GetSection(Section);
        var inline = section["MasterKey"];
        var file = section["MasterKeyFile"];
        MasterKey current;
        if (!string.IsNullOrWhiteSpace(inline) && !string.IsNullOrWhiteSpace(file))
        {
            throw new StartupConfigurationException("Both Vault:MasterKey and Vault:MasterKeyFile are set. Set one of them.");
        }
        if (!string.IsNullOrWhiteSpace(inline))
        {
            current = Parse("Vault:MasterKey", inline, secrets);
        }
        else if (!string.IsNullOrWhiteSpace(file))
        {
            current = Parse($"The key in Vault:MasterKeyFile ('{file}')", ReadFile("Vault:MasterKeyFile", file), secrets);
        }
        else if (environment.IsDevelopment())
        {
            var path = Path.Combine(environment.ContentRootPath, DevelopmentKeyFile);
            current = Parse($"The development key in '{path}'", ReadOrCreateDevelopmentKey(path), secrets);
        }
        else
        {
            throw new StartupConfigurationException(
                $"No master key for the credentials vault. Set Vault:MasterKey ({KeyLength}) or Vault:MasterKeyFile (a file holding one). {Generate}");
        }

        var retired = new List<MasterKey>();
        foreach (var child in section.GetSection("RetiredMasterKeys").GetChildren())
        {
            if (!string.IsNullOrWhiteSpace(child.Value))
            {
                retired.Add(Parse($"Vault:RetiredMasterKeys:{child.Key}", child.Value, secrets));
            }
        }
        foreach (var child in section.GetSection("RetiredMasterKeyFiles").GetChildren())
        {
            if (!string.IsNullOrWhiteSpace(child.Value))
            {
                var name = $"Vault:RetiredMasterKeyFiles:{child.Key}";
                retired.Add(Parse($"The key in {name} ('{child.Value}')", ReadFile(name, child.Value), secrets));
            }
        }
        return new MasterKeyRing(current, retired);
    }

    /// <summary>A ring from raw keys, for tools and tests that hold the bytes themselves.</summary>
    internal static MasterKeyRing FromKeys(byte[] current, params byte[][] retired) =>
        new(new MasterKey(current), retired.Select(k => new MasterKey(k)));

    private static MasterKey Parse(string name, string text, SecretValues secrets)
    {
        text = text.Trim();
        // Registered before anything can fail with it in a message or an event.
        secrets.Add(text);
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new StartupConfigurationException($"{name} is not valid base64; it must be {KeyLength}. {Generate}");
        }
        if (bytes.Length != 32)
        {
            var length = bytes.Length;
            CryptographicOperations.ZeroMemory(bytes);
            throw new StartupConfigurationException($"{name} decodes to {length} bytes; it must be {KeyLength}. {Generate}");
        }
        return new MasterKey(bytes);
    }

    private static string ReadFile(string name, string path)
    {
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new StartupConfigurationException($"{name} '{path}' cannot be read: {ex.Message.ReplaceLineEndings(" ")}", ex);
        }
    }

    private static string ReadOrCreateDevelopmentKey(string path)
    {
        if (File.Exists(path))
        {
            return ReadFile("The development key file", path);
        }
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
            {
                writer.WriteLine(key);
            }
            // Written whole before it appears under its name, so a process starting at the same moment never reads half a key.
            File.Move(temporary, path, overwrite: false);
            return key;
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process made it first: use that one.
            File.Delete(temporary);
            return ReadFile("The development key file", path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new StartupConfigurationException($"The development vault key '{path}' cannot be created: {ex.Message.ReplaceLineEndings(" ")}", ex);
        }
    }
}
