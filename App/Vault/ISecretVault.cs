namespace AgentSpace.Vault;

/// <summary>A secret as stored: AES-256-GCM ciphertext (nonce || ciphertext || tag) and the data key version that sealed it.</summary>
public sealed record SealedSecret(byte[] Ciphertext, int KeyVersion);

/// <summary>What a sealed secret is for; part of the associated data, so a ciphertext cannot be reused for another purpose.</summary>
public static class SecretPurposes
{
    public const string ModelProviderApiKey = "model-provider-api-key";
}

/// <summary>
/// Envelope encryption of an organization's secrets: sealed under the organization's data key with
/// associated data = organization id + purpose + record id, so a ciphertext copied to another row or
/// organization does not open. Every value opened or sealed is registered for its organization in
/// <see cref="TenantSecrets"/> (the chat's output filter; long values also reach <see cref="Hosting.SecretValues"/>).
/// </summary>
public interface ISecretVault
{
    Task<SealedSecret> SealAsync(Guid organizationId, string purpose, Guid recordId, string plaintext, CancellationToken ct);

    /// <summary>Throws <see cref="VaultException"/> with a clear message when the secret does not open.</summary>
    Task<string> OpenAsync(Guid organizationId, string purpose, Guid recordId, SealedSecret sealedSecret, CancellationToken ct);
}

/// <summary>A secret that cannot be sealed or opened; the message names why, never the secret.</summary>
public sealed class VaultException(string message) : Exception(message);
