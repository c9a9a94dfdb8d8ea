using AgentSpace.Tests.Infrastructure;
using AgentSpace.Vault;

namespace AgentSpace.Tests.Vault;

/// <summary>
/// A master key removed before <c>keys rotate</c> finished: the operator is told which key is missing, and
/// nothing is lost (its own database: these leave data keys no configured key unwraps).
/// </summary>
public sealed class MasterKeyLossTests(AppServices app) : IClassFixture<AppServices>
{
    private const string Purpose = SecretPurposes.ModelProviderApiKey;

    private async Task<Guid> NewOrgAsync() => (await app.CreateOrgAsync(await app.NewUserAsync("lost"))).Id;

    private Task<long> KeyRowsAsync(Guid org, string masterKeyId) =>
        app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{org}' and master_key_id = '{masterKeyId}'");

    [Fact]
    public async Task Open_OldKeyRemovedBeforeRotation_FailsNamingTheMissingKey()
    {
        var keyA = VaultNode.NewKey();
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        SealedSecret sealedSecret;
        string idA;
        await using (var nodeA = new VaultNode(app.Database.AppConnectionString, keyA))
        {
            sealedSecret = await nodeA.Vault.SealAsync(org, Purpose, record, "sk-orphaned-secret", default);
            idA = nodeA.CurrentMasterKeyId;
        }
        await using var onlyB = new VaultNode(app.Database.AppConnectionString, VaultNode.NewKey());

        var ex = await Assert.ThrowsAsync<VaultException>(() => onlyB.Vault.OpenAsync(org, Purpose, record, sealedSecret, default));

        Assert.Contains($"master key {idA}, which is not configured", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Vault:RetiredMasterKeys", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeysRotate_DataKeyUnderUnknownMasterKey_ExitsOneAndKeepsIt()
    {
        var keyA = VaultNode.NewKey();
        var org = await NewOrgAsync();
        string idA;
        await using (var nodeA = new VaultNode(app.Database.AppConnectionString, keyA))
        {
            await nodeA.Vault.SealAsync(org, Purpose, Guid.NewGuid(), "sk-unknown-master", default);
            idA = nodeA.CurrentMasterKeyId;
        }
        await using var onlyB = new VaultNode(app.Database.AppConnectionString, VaultNode.NewKey());

        var result = await onlyB.RunAsync("keys", "rotate");

        Assert.Equal(1, result.Code);
        Assert.Contains($"FAILED: wrapped under master key {idA}", result.Out, StringComparison.Ordinal);
        Assert.StartsWith("error: ", result.Err, StringComparison.Ordinal);
        Assert.Equal(1L, await KeyRowsAsync(org, idA));
    }
}
