using AgentSpace.Vault;

namespace AgentSpace.Tests.Vault;

/// <summary>What the UI may show of a saved key: a vendor prefix and the last few characters, never enough to use it.</summary>
public sealed class SecretHintTests
{
    [Theory]
    [InlineData("sk-proj-4f9dXcQ2mLkP0aZr7TnYw3EbHs1Va1b2", "sk-…a1b2")]
    [InlineData("sk-ant-api03-Zx8QwErTyUiOpAsDfGhJkL9a1b2", "sk-…a1b2")]
    [InlineData("gsk_Q2mLkP0aZr7TnYw3EbHs1Vc9d8", "gsk_…c9d8")]
    [InlineData("AIzaSyD4f9dXcQ2mLkP0aZr7TnYw3Eb", "…w3Eb")]
    [InlineData("abcdefgh-4f9dXcQ2mLkP0aZr7TnYw3Eb", "…w3Eb")]
    [InlineData("shortsecret12", "…12")]
    [InlineData("tiny", "…")]
    [InlineData("", "…")]
    [InlineData(null, "…")]
    public void Mask_Secret_ShowsOnlyPrefixAndTail(string? secret, string expected) =>
        Assert.Equal(expected, SecretHint.Mask(secret));
}
