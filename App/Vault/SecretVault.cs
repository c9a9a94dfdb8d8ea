using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Vault;

/// <summary>
/// <see cref="ISecretVault"/> over one data key per organization (created on its first seal), kept wrapped in
/// platform.tenant_data_keys. Each call reads the key row in its own short platform query, never inside a
/// tenant unit of work, and keeps no unwrapped key in memory afterwards: deleting an organization's key rows
/// (crypto-shredding) takes effect at once on every node.
/// </summary>
public sealed class SecretVault(
    IDbContextFactory<PlatformDbContext> platformFactory,
    MasterKeyRing masterKeys,
    TenantSecrets secrets,
    SlowCallGuard guard,
    TimeProvider clock) : ISecretVault
{
    public const string DoesNotOpen = "The secret does not open for this organization, purpose and record.";

    public async Task<SealedSecret> SealAsync(Guid organizationId, string purpose, Guid recordId, string plaintext, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        var associatedData = AssociatedData(organizationId, purpose, recordId);
        // Known to the organization's filter (and, when long, the scrubber) before anything below can fail while it is in memory.
        secrets.Set(organizationId, purpose, recordId, plaintext);
        guard.Check("A credentials vault call");
        var (version, dataKey) = await CurrentDataKeyAsync(organizationId, ct);
        var plain = Encoding.UTF8.GetBytes(plaintext);
        try
        {
            var sealedBytes = new byte[DataKeys.NonceSize + plain.Length + DataKeys.TagSize];
            var nonce = sealedBytes.AsSpan(0, DataKeys.NonceSize);
            RandomNumberGenerator.Fill(nonce);
            using var gcm = new AesGcm(dataKey, DataKeys.TagSize);
            gcm.Encrypt(nonce, plain, sealedBytes.AsSpan(DataKeys.NonceSize, plain.Length), sealedBytes.AsSpan(DataKeys.NonceSize + plain.Length), associatedData);
            return new SealedSecret(sealedBytes, version);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    public async Task<string> OpenAsync(Guid organizationId, string purpose, Guid recordId, SealedSecret sealedSecret, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sealedSecret);
        var associatedData = AssociatedData(organizationId, purpose, recordId);
        var sealedBytes = sealedSecret.Ciphertext;
        if (sealedBytes is null || sealedBytes.Length < DataKeys.NonceSize + DataKeys.TagSize)
        {
            throw new VaultException("The secret is damaged: it is shorter than any sealed secret.");
        }
        guard.Check("A credentials vault call");
        var dataKey = await DataKeyAsync(organizationId, sealedSecret.KeyVersion, ct);
        var plain = new byte[sealedBytes.Length - DataKeys.NonceSize - DataKeys.TagSize];
        try
        {
            using var gcm = new AesGcm(dataKey, DataKeys.TagSize);
            gcm.Decrypt(sealedBytes.AsSpan(0, DataKeys.NonceSize), sealedBytes.AsSpan(DataKeys.NonceSize, plain.Length),
                sealedBytes.AsSpan(DataKeys.NonceSize + plain.Length), plain, associatedData);
            var plaintext = Encoding.UTF8.GetString(plain);
            secrets.Set(organizationId, purpose, recordId, plaintext);
            return plaintext;
        }
        catch (CryptographicException)
        {
            // Moved to another row, organization or purpose, or altered: all look alike to the tag, and say nothing more.
            throw new VaultException(DoesNotOpen);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>
    /// Crypto-shredding: deletes every data key of the organization in the caller's platform transaction, so
    /// every ciphertext sealed for it (including copies in backups) can no longer be opened. The caller then
    /// calls <see cref="TenantSecrets.Forget"/> so no opened plaintext of it stays in this process.
    /// </summary>
    public static Task<int> DestroyKeysAsync(PlatformDbContext db, Guid organizationId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        return db.TenantDataKeys.Where(k => k.OrganizationId == organizationId).ExecuteDeleteAsync(ct);
    }

    /// <summary>"org:{id}|purpose:{purpose}|record:{id}": the ids have a fixed length, so no two triples share a text.</summary>
    internal static byte[] AssociatedData(Guid organizationId, string purpose, Guid recordId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(purpose);
        return Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"org:{organizationId:D}|purpose:{purpose}|record:{recordId:D}"));
    }

    private async Task<(int Version, byte[] Key)> CurrentDataKeyAsync(Guid organizationId, CancellationToken ct)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var row = await db.TenantDataKeys.AsNoTracking().Where(k => k.OrganizationId == organizationId)
            .OrderByDescending(k => k.Version).FirstOrDefaultAsync(ct)
            ?? await CreateDataKeyAsync(db, organizationId, ct);
        return (row.Version, Unwrap(row));
    }

    private async Task<TenantDataKey> CreateDataKeyAsync(PlatformDbContext db, Guid organizationId, CancellationToken ct)
    {
        const int version = 1;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // What a foreign key would do: wait for a deletion of the organization in progress and refuse once it is
        // gone, so no data key outlives its organization.
        var exists = await db.Database
            .SqlQuery<int>($"select 1 as \"Value\" from platform.organizations where id = {organizationId} for key share")
            .ToListAsync(ct);
        if (exists.Count == 0)
        {
            throw new VaultException("The organization does not exist, so nothing can be sealed for it.");
        }
        var dataKey = DataKeys.NewKey();
        var master = masterKeys.Current;
        var wrapped = DataKeys.Wrap(master, organizationId, version, dataKey);
        CryptographicOperations.ZeroMemory(dataKey);
        // Two first seals racing: the second waits for the first's insert, does nothing, and reads the first's key.
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            insert into platform.tenant_data_keys (organization_id, version, wrapped_key, master_key_id, created_at)
            values ({organizationId}, {version}, {wrapped}, {master.Id}, {clock.GetUtcNow()})
            on conflict do nothing
            """, ct);
        var row = await db.TenantDataKeys.AsNoTracking().Where(k => k.OrganizationId == organizationId)
            .OrderByDescending(k => k.Version).FirstAsync(ct);
        await tx.CommitAsync(ct);
        return row;
    }

    private async Task<byte[]> DataKeyAsync(Guid organizationId, int version, CancellationToken ct)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        var rows = await db.TenantDataKeys.AsNoTracking().Where(k => k.OrganizationId == organizationId).ToListAsync(ct);
        if (rows.Count == 0)
        {
            throw new VaultException(
                $"This organization has no data key (it was deleted, or nothing was ever sealed for it), so a secret sealed under key version {version} cannot be opened.");
        }
        var row = rows.FirstOrDefault(r => r.Version == version)
            ?? throw new VaultException(
                $"The secret was sealed under data key version {version}, which this organization does not have (it has version {string.Join(", ", rows.Select(r => r.Version).Order())}).");
        return Unwrap(row);
    }

    private byte[] Unwrap(TenantDataKey row)
    {
        var master = masterKeys.Find(row.MasterKeyId)
            ?? throw new VaultException(
                $"Data key version {row.Version} of this organization is wrapped under master key {row.MasterKeyId}, which is not configured. " +
                "Add that key to Vault:RetiredMasterKeys until 'keys rotate' has re-wrapped it.");
        try
        {
            return DataKeys.Unwrap(master, row.OrganizationId, row.Version, row.WrappedKey);
        }
        catch (CryptographicException)
        {
            throw new VaultException(
                $"Data key version {row.Version} of this organization does not unwrap under master key {master.Id}: the stored key was altered or moved from another organization.");
        }
    }
}
