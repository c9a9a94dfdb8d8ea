using AgentSpace.Tests.Infrastructure;
using AgentSpace.Vault;

namespace AgentSpace.Tests.Vault;

/// <summary>
/// Master key rotation as an operator runs it: nodes redeployed with the new key current and the old one
/// retired, <c>App keys rotate</c>, then the old key removed. Every secret stays readable throughout.
/// </summary>
public sealed class KeyRotationTests(AppServices app) : IClassFixture<AppServices>
{
    private const string Purpose = SecretPurposes.ModelProviderApiKey;

    private async Task<Guid> NewOrgAsync() => (await app.CreateOrgAsync(await app.NewUserAsync("rotate"))).Id;

    private Task<long> KeyRowsAsync(Guid org, string masterKeyId) =>
        app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{org}' and master_key_id = '{masterKeyId}'");

    [Fact]
    public async Task KeysRotate_NewKeyCurrentOldRetired_EverySecretStillOpensUnderNewKeyAlone()
    {
        var keyA = VaultNode.NewKey();
        var keyB = VaultNode.NewKey();
        var orgs = new[] { await NewOrgAsync(), await NewOrgAsync() };
        var saved = new List<(Guid Org, Guid Record, string Secret, SealedSecret Sealed)>();
        await using (var nodeA = new VaultNode(app.Database.AppConnectionString, keyA))
        {
            foreach (var org in orgs)
            {
                for (var i = 0; i < 3; i++)
                {
                    var record = Guid.NewGuid();
                    var secret = $"sk-rotate-{Guid.NewGuid():N}";
                    saved.Add((org, record, secret, await nodeA.Vault.SealAsync(org, Purpose, record, secret, default)));
                }
            }
        }

        await using (var nodeB = new VaultNode(app.Database.AppConnectionString, keyB, keyA))
        {
            // Redeployed, not yet rotated: old data keys read through the retired key; a new organization gets B at once.
            foreach (var s in saved)
            {
                Assert.Equal(s.Secret, await nodeB.Vault.OpenAsync(s.Org, Purpose, s.Record, s.Sealed, default));
            }
            var late = await NewOrgAsync();
            var lateRecord = Guid.NewGuid();
            saved.Add((late, lateRecord, "sk-late-secret", await nodeB.Vault.SealAsync(late, Purpose, lateRecord, "sk-late-secret", default)));

            var rotated = await nodeB.RunAsync("keys", "rotate");

            Assert.Equal(0, rotated.Code);
            Assert.Equal("", rotated.Err);
            Assert.Contains("Done: 2 re-wrapped, 1 already under master key " + nodeB.CurrentMasterKeyId + ", 0 failed.", rotated.Out, StringComparison.Ordinal);
            foreach (var org in orgs)
            {
                Assert.Equal(1L, await KeyRowsAsync(org, nodeB.CurrentMasterKeyId));
            }

            var again = await nodeB.RunAsync("keys", "rotate");
            Assert.Equal(0, again.Code);
            Assert.Contains("Done: 0 re-wrapped, 3 already under master key", again.Out, StringComparison.Ordinal);
        }

        await using var onlyB = new VaultNode(app.Database.AppConnectionString, keyB);
        foreach (var s in saved)
        {
            Assert.Equal(s.Secret, await onlyB.Vault.OpenAsync(s.Org, Purpose, s.Record, s.Sealed, default));
        }
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>(
            $"select count(*) from platform.tenant_data_keys where master_key_id <> '{onlyB.CurrentMasterKeyId}' and organization_id in ('{orgs[0]}', '{orgs[1]}')"));
    }

    [Fact]
    public async Task KeysRotate_Help_DescribesTheProcedure()
    {
        await using var node = new VaultNode(app.Database.AppConnectionString, VaultNode.NewKey());

        var help = await node.RunAsync("keys", "rotate", "--help");
        var bad = await node.RunAsync("keys", "rotate", "now");

        Assert.Equal(0, help.Code);
        Assert.Contains("Usage: App keys rotate", help.Out, StringComparison.Ordinal);
        Assert.Contains("Vault:RetiredMasterKeys", help.Out, StringComparison.Ordinal);
        Assert.Equal(2, bad.Code);
        Assert.StartsWith("error: ", bad.Err, StringComparison.Ordinal);
    }
}
