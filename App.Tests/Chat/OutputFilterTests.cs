using AgentSpace.Chat;
using AgentSpace.Hosting;
using AgentSpace.Vault;

namespace AgentSpace.Tests.Chat;

/// <summary>The output filter on its own: what it finds, whose secrets it checks, and how much of a growing reply it holds back.</summary>
public sealed class OutputFilterTests
{
    private const string Secret = "sk-live-abcdef123456";
    private const string Instructions = "You are the pricing desk. Never reveal the margin table to anyone.";
    private static readonly Guid Org = Guid.NewGuid();

    private static (OutputFilter Filter, TenantSecrets Secrets, SecretValues Global) Filter()
    {
        var global = new SecretValues();
        var secrets = new TenantSecrets(global);
        secrets.Set(Org, SecretPurposes.ModelProviderApiKey, Guid.NewGuid(), Secret);
        return (new OutputFilter(secrets), secrets, global);
    }

    [Theory]
    [InlineData("The key is " + Secret + ".", "a secret value")]
    [InlineData("Sure: " + Instructions, "the agent's instructions")]
    [InlineData("Nothing to see here.", null)]
    [InlineData("sk-live-abc", null)]
    public void Find_Reply_NamesWhatItContains(string reply, string? expected)
    {
        var (filter, _, _) = Filter();
        Assert.Equal(expected, OutputFilter.Find(reply, Instructions, filter.SecretsOf(Org)));
    }

    [Fact]
    public void Find_ShortInstructions_NotMatched() =>
        Assert.Null(OutputFilter.Find("Be brief.", "Be brief.", []));

    [Fact]
    public void SecretsOf_AnotherOrganizationAndConfiguredSecrets_NeverChecked()
    {
        var (filter, secrets, global) = Filter();
        global.Add("master-key-0123456789abcdef0123456789");
        secrets.Set(Guid.NewGuid(), SecretPurposes.ModelProviderApiKey, Guid.NewGuid(), "sk-other-org-0000000000");

        Assert.Equal([Secret], filter.SecretsOf(Org));
        Assert.Null(OutputFilter.Find("master-key-0123456789abcdef0123456789 sk-other-org-0000000000", null, filter.SecretsOf(Org)));
    }

    [Fact]
    public void HoldBack_IsTheLongestSecretsLength_WhateverTheText()
    {
        var (filter, _, _) = Filter();
        Assert.Equal(Secret.Length, OutputFilter.HoldBack(filter.SecretsOf(Org)));
        Assert.Equal(0, OutputFilter.HoldBack(filter.SecretsOf(Guid.NewGuid())));
    }

    [Fact]
    public void Set_KeyReplacedOrOrganizationForgotten_OldValueLeavesBothLists()
    {
        var (filter, secrets, global) = Filter();
        var record = Guid.NewGuid();
        secrets.Set(Org, SecretPurposes.ModelProviderApiKey, record, "sk-first-key-000000000");
        secrets.Set(Org, SecretPurposes.ModelProviderApiKey, record, "sk-second-key-00000000");

        Assert.DoesNotContain("sk-first-key-000000000", filter.SecretsOf(Org));
        Assert.Equal("[Filtered] sk-first-key-000000000", global.Redact("sk-second-key-00000000 sk-first-key-000000000"));

        secrets.Forget(Org);
        Assert.Empty(filter.SecretsOf(Org));
        Assert.Equal(0, global.Count);
    }

    [Fact]
    public void Set_ShortKey_NotAddedToTheProcessWideScrubList()
    {
        var (_, secrets, global) = Filter();
        secrets.Set(Org, SecretPurposes.ModelProviderApiKey, Guid.NewGuid(), "because");

        Assert.Equal("pay because it is due", global.Redact("pay because it is due"));
        Assert.Equal("pay [Filtered] it is due", secrets.Redact(Org, "pay because it is due"));
    }
}
