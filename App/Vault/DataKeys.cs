using System.Security.Cryptography;
using System.Text;

namespace AgentSpace.Vault;

/// <summary>
/// Wrapping an organization's data key under a master key: AES-256-GCM, nonce (12) || ciphertext (32) || tag (16),
/// with associated data naming the organization and the key version, so a wrapped key copied to another
/// organization's row (or version) does not unwrap.
/// </summary>
internal static class DataKeys
{
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeySize);

    public static byte[] Wrap(MasterKey master, Guid organizationId, int version, ReadOnlySpan<byte> dataKey)
    {
        var wrapped = new byte[NonceSize + KeySize + TagSize];
        var nonce = wrapped.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var gcm = new AesGcm(master.Bytes, TagSize);
        gcm.Encrypt(nonce, dataKey, wrapped.AsSpan(NonceSize, KeySize), wrapped.AsSpan(NonceSize + KeySize, TagSize), AssociatedData(organizationId, version));
        return wrapped;
    }

    /// <exception cref="CryptographicException">The wrapped key is damaged, belongs to another organization or version, or this is not its master key.</exception>
    public static byte[] Unwrap(MasterKey master, Guid organizationId, int version, byte[] wrapped)
    {
        if (wrapped.Length != NonceSize + KeySize + TagSize)
        {
            throw new CryptographicException("The wrapped data key has the wrong length.");
        }
        var dataKey = new byte[KeySize];
        using var gcm = new AesGcm(master.Bytes, TagSize);
        gcm.Decrypt(wrapped.AsSpan(0, NonceSize), wrapped.AsSpan(NonceSize, KeySize), wrapped.AsSpan(NonceSize + KeySize, TagSize), dataKey,
            AssociatedData(organizationId, version));
        return dataKey;
    }

    private static byte[] AssociatedData(Guid organizationId, int version) =>
        Encoding.UTF8.GetBytes(FormattableString.Invariant($"agentspace-data-key|org:{organizationId:D}|version:{version}"));
}
