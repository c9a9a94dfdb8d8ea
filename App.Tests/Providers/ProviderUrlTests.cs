using System.Net;
using AgentSpace.Providers;

namespace AgentSpace.Tests.Providers;

/// <summary>Which base URLs an Admin can save: metadata services never, in any spelling; self-hosted servers yes.</summary>
public sealed class ProviderUrlTests
{
    [Theory]
    [InlineData("http://169.254.169.254/latest")]
    [InlineData("http://2852039166/latest")]
    [InlineData("http://0xA9FEA9FE/latest")]
    [InlineData("http://0251.0376.0251.0376/latest")]
    [InlineData("http://169.254.169.254./latest")]
    [InlineData("http://[::ffff:169.254.169.254]/latest")]
    [InlineData("http://[::ffff:a9fe:a9fe]/latest")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/latest")]
    [InlineData("http://[fe80::1]/latest")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1")]
    [InlineData("http://metadata.google.internal./computeMetadata/v1")]
    [InlineData("http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1")]
    [InlineData("http://[fd00:ec2::254]/latest")]
    [InlineData("http://100.100.100.200/latest")]
    [InlineData("http://100.100.100.200./latest")]
    [InlineData("http://0.0.0.0:11434/v1")]
    [InlineData("http://224.0.0.1/v1")]
    [InlineData("http://[ff02::1]/v1")]
    public void Normalize_MetadataOrLinkLocalAddress_IsRefusedWithAClearMessage(string url)
    {
        var error = Assert.Throws<ProviderRuleException>(() => ProviderUrl.Normalize(url, allowPlainHttp: true));

        Assert.StartsWith("This address is not allowed as a provider: it is ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://api.openai.com/v1")]
    [InlineData("http://127.0.0.1:11434/v1")]
    [InlineData("http://localhost:1234/v1")]
    [InlineData("http://[::1]:8000/v1")]
    [InlineData("http://10.0.0.5:8000/v1")]
    [InlineData("http://192.168.1.20:11434/v1")]
    [InlineData("http://172.16.4.2/v1")]
    [InlineData("http://100.64.0.7/v1")]
    public void Normalize_SelfHostedOrPublicAddress_IsAccepted(string url) =>
        Assert.Equal(url, ProviderUrl.Normalize(url, allowPlainHttp: true));

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("169.254.0.1")]
    [InlineData("100.100.100.200")]
    [InlineData("0.0.0.0")]
    [InlineData("0.1.2.3")]
    [InlineData("224.0.0.251")]
    [InlineData("255.255.255.255")]
    [InlineData("fe80::1")]
    [InlineData("febf::1")]
    [InlineData("fd00:ec2::254")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("::ffff:100.100.100.200")]
    [InlineData("64:ff9b::169.254.169.254")]
    [InlineData("::169.254.169.254")]
    [InlineData("ff02::1")]
    [InlineData("::")]
    public void AddressRule_MetadataLinkLocalOrMulticast_IsRefused(string address) =>
        Assert.NotNull(ProviderAddress.Refusal(IPAddress.Parse(address)));

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.0.10")]
    [InlineData("172.31.255.1")]
    [InlineData("100.100.100.201")]
    [InlineData("fd00:ec2::253")]
    [InlineData("fc00::1")]
    [InlineData("::ffff:192.168.1.1")]
    [InlineData("8.8.8.8")]
    [InlineData("2606:4700::1111")]
    public void AddressRule_LoopbackPrivateOrPublic_IsAllowed(string address) =>
        Assert.Null(ProviderAddress.Refusal(IPAddress.Parse(address)));
}
