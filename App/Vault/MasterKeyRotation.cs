using System.Security.Cryptography;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Vault;

/// <summary>What one run of <c>keys rotate</c> did.</summary>
public sealed record RotationResult(string CurrentMasterKeyId, int Rewrapped, int AlreadyCurrent, int Failed);

/// <summary>
/// Re-wraps every data key that is not under the current master key, under the current one. Each key in its
/// own short transaction (row locked, checked again, re-wrapped, committed), so the app keeps serving and a
/// run stopped halfway is finished by running it again.
/// </summary>
public sealed class MasterKeyRotation(IDbContextFactory<PlatformDbContext> platformFactory, MasterKeyRing masterKeys, TimeProvider clock)
{
    public async Task<RotationResult> RotateAsync(TextWriter progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var current = masterKeys.Current;
        List<(Guid OrganizationId, int Version, string MasterKeyId)> pending;
        int alreadyCurrent;
        Dictionary<Guid, string> slugs;
        await using (var db = await platformFactory.CreateDbContextAsync(ct))
        {
            pending = [.. (await db.TenantDataKeys.AsNoTracking().Where(k => k.MasterKeyId != current.Id)
                .OrderBy(k => k.OrganizationId).ThenBy(k => k.Version)
                .Select(k => new { k.OrganizationId, k.Version, k.MasterKeyId }).ToListAsync(ct))
                .Select(k => (k.OrganizationId, k.Version, k.MasterKeyId))];
            alreadyCurrent = await db.TenantDataKeys.CountAsync(k => k.MasterKeyId == current.Id, ct);
            var ids = pending.Select(p => p.OrganizationId).Distinct().ToList();
            slugs = await db.Organizations.AsNoTracking().Where(o => ids.Contains(o.Id)).ToDictionaryAsync(o => o.Id, o => o.Slug, ct);
        }
        await progress.WriteLineAsync($"Current master key: {current.Id}. Data keys to re-wrap: {pending.Count}; already under it: {alreadyCurrent}.");

        int rewrapped = 0, failed = 0;
        var index = 0;
        foreach (var (organizationId, version, _) in pending)
        {
            index++;
            var name = $"[{index}/{pending.Count}] {slugs.GetValueOrDefault(organizationId) ?? organizationId.ToString()} key v{version}";
            var outcome = await RewrapOneAsync(organizationId, version, current, ct);
            switch (outcome.Kind)
            {
                case OutcomeKind.Rewrapped:
                    rewrapped++;
                    break;
                case OutcomeKind.AlreadyCurrent:
                    alreadyCurrent++;
                    break;
                case OutcomeKind.Failed:
                    failed++;
                    break;
            }
            await progress.WriteLineAsync($"{name}: {outcome.Message}");
        }
        return new RotationResult(current.Id, rewrapped, alreadyCurrent, failed);
    }

    private async Task<Outcome> RewrapOneAsync(Guid organizationId, int version, MasterKey current, CancellationToken ct)
    {
        await using var db = await platformFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // Locked and read again: another rotation or a deletion may have come first.
        var row = (await db.TenantDataKeys
            .FromSqlInterpolated($"select * from platform.tenant_data_keys where organization_id = {organizationId} and version = {version} for update")
            .ToListAsync(ct)).SingleOrDefault();
        if (row is null)
        {
            return new Outcome(OutcomeKind.Gone, "gone (its organization was deleted meanwhile)");
        }
        if (row.MasterKeyId == current.Id)
        {
            return new Outcome(OutcomeKind.AlreadyCurrent, "already under the current master key");
        }
        var old = masterKeys.Find(row.MasterKeyId);
        if (old is null)
        {
            return new Outcome(OutcomeKind.Failed,
                $"FAILED: wrapped under master key {row.MasterKeyId}, which is not configured (add it to Vault:RetiredMasterKeys)");
        }
        byte[] dataKey;
        try
        {
            dataKey = DataKeys.Unwrap(old, row.OrganizationId, row.Version, row.WrappedKey);
        }
        catch (CryptographicException)
        {
            return new Outcome(OutcomeKind.Failed, $"FAILED: does not unwrap under master key {old.Id} (the stored key was altered)");
        }
        try
        {
            row.WrappedKey = DataKeys.Wrap(current, row.OrganizationId, row.Version, dataKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
        row.MasterKeyId = current.Id;
        row.RewrappedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new Outcome(OutcomeKind.Rewrapped, $"re-wrapped from {old.Id} to {current.Id}");
    }

    private enum OutcomeKind { Rewrapped, AlreadyCurrent, Gone, Failed }

    private sealed record Outcome(OutcomeKind Kind, string Message);
}
