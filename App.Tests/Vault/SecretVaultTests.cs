using AgentSpace.Hosting;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Vault;

namespace AgentSpace.Tests.Vault;

/// <summary>
/// The vault as an attacker with database access sees it: a ciphertext moved to another record, organization
/// or purpose, altered, or kept after its organization was deleted does not open.
/// </summary>
public sealed class SecretVaultTests(AppServices app) : IClassFixture<AppServices>
{
    private const string Purpose = SecretPurposes.ModelProviderApiKey;

    private ISecretVault Vault => app.Get<ISecretVault>();

    private static string Canary() => "sk-canary-" + Guid.NewGuid().ToString("N");

    private async Task<OrgSummary> NewOrgAsync() => await app.CreateOrgAsync(await app.NewUserAsync("vault"));

    [Fact]
    public async Task Open_SealedSecret_ReturnsIt()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var secret = Canary() + " ünïcode ✓";

        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, record, secret, default);

        Assert.Equal(1, sealedSecret.KeyVersion);
        Assert.Equal(12 + System.Text.Encoding.UTF8.GetByteCount(secret) + 16, sealedSecret.Ciphertext.Length);
        Assert.Equal(-1, sealedSecret.Ciphertext.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(secret)));
        Assert.Equal(secret, await Vault.OpenAsync(org.Id, Purpose, record, sealedSecret, default));
    }

    [Fact]
    public async Task Seal_SameSecretTwice_GivesDifferentCiphertexts()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var secret = Canary();

        var first = await Vault.SealAsync(org.Id, Purpose, record, secret, default);
        var second = await Vault.SealAsync(org.Id, Purpose, record, secret, default);

        Assert.NotEqual(first.Ciphertext, second.Ciphertext);
    }

    [Fact]
    public async Task Open_CiphertextCopiedToAnotherRecord_Fails()
    {
        var org = await NewOrgAsync();
        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, Guid.NewGuid(), Canary(), default);

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, Purpose, Guid.NewGuid(), sealedSecret, default));

        Assert.Equal("The secret does not open for this organization, purpose and record.", ex.Message);
    }

    [Fact]
    public async Task Open_CiphertextCopiedToAnotherOrganization_Fails()
    {
        var victim = await NewOrgAsync();
        var attacker = await NewOrgAsync();
        var record = Guid.NewGuid();
        await Vault.SealAsync(attacker.Id, Purpose, Guid.NewGuid(), Canary(), default);
        var stolen = await Vault.SealAsync(victim.Id, Purpose, record, Canary(), default);

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(attacker.Id, Purpose, record, stolen, default));

        Assert.Equal(SecretVault.DoesNotOpen, ex.Message);
    }

    [Fact]
    public async Task Open_AnotherPurpose_Fails()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, record, Canary(), default);

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, "webhook-signing-secret", record, sealedSecret, default));

        Assert.Equal(SecretVault.DoesNotOpen, ex.Message);
    }

    [Fact]
    public async Task Open_WrongKeyVersion_FailsNamingTheVersion()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var secret = Canary();
        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, record, secret, default);

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, Purpose, record, sealedSecret with { KeyVersion = 7 }, default));

        Assert.Contains("data key version 7", ex.Message, StringComparison.Ordinal);
        Assert.Contains("has version 1", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]   // nonce
    [InlineData(12)]  // ciphertext
    [InlineData(-1)]  // tag
    public async Task Open_TamperedByte_Fails(int position)
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, record, Canary(), default);
        var tampered = (byte[])sealedSecret.Ciphertext.Clone();
        tampered[position >= 0 ? position : tampered.Length + position] ^= 0x01;

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, Purpose, record, sealedSecret with { Ciphertext = tampered }, default));

        Assert.Equal(SecretVault.DoesNotOpen, ex.Message);
    }

    [Fact]
    public async Task Open_TruncatedCiphertext_FailsClearly()
    {
        var org = await NewOrgAsync();

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, Purpose, Guid.NewGuid(), new SealedSecret(new byte[10], 1), default));

        Assert.Contains("damaged", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_DataKeyRowCopiedFromAnotherOrganization_Fails()
    {
        // An attacker with write access to platform.tenant_data_keys gives their organization the victim's wrapped key.
        var victim = await NewOrgAsync();
        var attacker = await NewOrgAsync();
        var record = Guid.NewGuid();
        var stolen = await Vault.SealAsync(victim.Id, Purpose, record, Canary(), default);
        await Vault.SealAsync(attacker.Id, Purpose, Guid.NewGuid(), Canary(), default);
        await app.Database.ExecuteAsAdminAsync(
            $"update platform.tenant_data_keys a set wrapped_key = v.wrapped_key from platform.tenant_data_keys v where a.organization_id = '{attacker.Id}' and v.organization_id = '{victim.Id}'");

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(attacker.Id, Purpose, record, stolen, default));

        Assert.Contains("does not unwrap", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Seal_ManyFirstSealsAtOnce_ShareOneDataKey()
    {
        var org = await NewOrgAsync();
        var secrets = Enumerable.Range(0, 8).Select(_ => (Record: Guid.NewGuid(), Secret: Canary())).ToList();

        var sealedSecrets = await Task.WhenAll(secrets.Select(s => Task.Run(() => Vault.SealAsync(org.Id, Purpose, s.Record, s.Secret, default))));

        Assert.Equal(1L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{org.Id}'"));
        for (var i = 0; i < secrets.Count; i++)
        {
            Assert.Equal(secrets[i].Secret, await Vault.OpenAsync(org.Id, Purpose, secrets[i].Record, sealedSecrets[i], default));
        }
    }

    [Fact]
    public async Task Seal_UnknownOrganization_FailsAndStoresNoKey()
    {
        var nobody = Guid.NewGuid();

        await Assert.ThrowsAsync<VaultException>(() => Vault.SealAsync(nobody, Purpose, Guid.NewGuid(), Canary(), default));

        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{nobody}'"));
    }

    [Fact]
    public async Task Open_AfterOrganizationDeletedByOwner_FailsAndKeyRowsAreGone()
    {
        var owner = await app.NewUserAsync("shred");
        var org = await app.CreateOrgAsync(owner);
        var record = Guid.NewGuid();
        var backup = await Vault.SealAsync(org.Id, Purpose, record, Canary(), default);

        await app.WithAsync<OrganizationService>(s => s.DeleteAsync(owner, org.Slug, org.Slug, default));

        var ex = await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, Purpose, record, backup, default));
        Assert.Contains("no data key", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{org.Id}'"));
        // Nothing can be sealed for it afterwards either: no key is made for an organization that is gone.
        await Assert.ThrowsAsync<VaultException>(() => Vault.SealAsync(org.Id, Purpose, record, Canary(), default));
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{org.Id}'"));
    }

    [Fact]
    public async Task Open_AfterTenantDeleteCommand_FailsAndKeyRowsAreGone()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var backup = await Vault.SealAsync(org.Id, Purpose, record, Canary(), default);
        await using var node = new VaultNode(app.Database.AppConnectionString, VaultNode.NewKey());

        var deleted = await node.RunAsync("tenant", "delete", org.Slug, "--yes");

        Assert.Equal(0, deleted.Code);
        await Assert.ThrowsAsync<VaultException>(() => Vault.OpenAsync(org.Id, Purpose, record, backup, default));
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.tenant_data_keys where organization_id = '{org.Id}'"));
    }

    [Fact]
    public async Task SealAndOpen_RegisterThePlaintextWithTheScrubber()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var secret = Canary();
        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, record, secret, default);
        Assert.Equal("key [Filtered]", app.Get<SecretValues>().Redact("key " + secret));

        // Another node that never saw it sealed learns it when it opens it.
        var key = app.Configuration["Vault:MasterKey"]!;
        await using var node = new VaultNode(app.Database.AppConnectionString, key);
        Assert.Equal("key " + secret, node.Secrets.Redact("key " + secret));

        Assert.Equal(secret, await node.Vault.OpenAsync(org.Id, Purpose, record, sealedSecret, default));

        Assert.Equal("key [Filtered]", node.Secrets.Redact("key " + secret));
    }

    [Fact]
    public async Task Open_InsideTenantUnitOfWork_IsRefused()
    {
        var org = await NewOrgAsync();
        var record = Guid.NewGuid();
        var sealedSecret = await Vault.SealAsync(org.Id, Purpose, record, Canary(), default);
        var schema = AgentSpace.Data.TenantSchemaName.Parse(await app.Database.ScalarAsAdminAsync<string>($"select schema_name from platform.organizations where id = '{org.Id}'") ?? "");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => app.Get<AgentSpace.Data.TenantUnitOfWork>().RunAsync(schema,
            (_, token) => Vault.OpenAsync(org.Id, Purpose, record, sealedSecret, token), default));

        Assert.Contains("tenant unit of work", ex.Message, StringComparison.Ordinal);
    }
}
