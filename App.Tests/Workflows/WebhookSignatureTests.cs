using System.Security.Cryptography;
using System.Text;
using AgentSpace.Workflows;

namespace AgentSpace.Tests.Workflows;

/// <summary>
/// What a webhook sender without the secret can and cannot do: no request is valid unless it was signed with the
/// workflow's secret over this exact body and a timestamp within five minutes of now.
/// </summary>
public sealed class WebhookSignatureTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 14, 9, 26, 53, TimeSpan.Zero);
    private static readonly long NowSeconds = Now.ToUnixTimeSeconds();
    private static readonly byte[] Secret = WebhookSignature.SecretBytes(WebhookSignature.NewSecret());
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"event":"invoice.paid","amount":4200}""");

    private static WebhookVerdict Verify(string? timestamp, string? signature, byte[]? body = null, byte[]? secret = null) =>
        WebhookSignature.Verify(secret ?? Secret, timestamp, signature, body ?? Body, Now);

    private static string Stamp(long seconds) => seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Verify_SignedJustNow_IsValid()
    {
        var signature = WebhookSignature.Sign(Secret, NowSeconds, Body);

        Assert.Equal(WebhookVerdict.Valid, Verify(Stamp(NowSeconds), signature));
    }

    [Fact]
    public void Sign_IsHmacSha256OverTimestampDotBody_AsLowercaseHex()
    {
        byte[] signed = [.. Encoding.ASCII.GetBytes($"{NowSeconds}."), .. Body];
        var expected = HMACSHA256.HashData(Secret, signed);

        var signature = WebhookSignature.Sign(Secret, NowSeconds, Body);

        Assert.Equal("v1=" + Convert.ToHexStringLower(expected), signature);
        Assert.Matches("^v1=[0-9a-f]{64}$", signature);
    }

    [Fact]
    public void Verify_UppercaseHexOfTheRightSignature_IsValid()
    {
        var signature = "v1=" + WebhookSignature.Sign(Secret, NowSeconds, Body)[3..].ToUpperInvariant();

        Assert.Equal(WebhookVerdict.Valid, Verify(Stamp(NowSeconds), signature));
    }

    [Theory]
    [InlineData(null, "v1=00")]
    [InlineData("", "v1=00")]
    [InlineData("1741944413", null)]
    [InlineData("1741944413", "")]
    [InlineData("  ", "  ")]
    public void Verify_HeaderMissing_IsUnsigned(string? timestamp, string? signature) =>
        Assert.Equal(WebhookVerdict.Unsigned, Verify(timestamp, signature));

    [Theory]
    [InlineData("yesterday")]
    [InlineData("1741944413.5")]
    [InlineData("-1741944413")]
    [InlineData("+1741944413")]
    [InlineData(" 1741944413")]
    [InlineData("1e9")]
    [InlineData("99999999999999999999999")]
    public void Verify_TimestampNotWholeSeconds_IsMalformed(string timestamp)
    {
        var signature = WebhookSignature.Sign(Secret, NowSeconds, Body);

        Assert.Equal(WebhookVerdict.Malformed, Verify(timestamp, signature));
    }

    [Theory]
    [InlineData("0123456789abcdef")]
    [InlineData("v1=")]
    [InlineData("v1=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde")]
    [InlineData("v1=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0")]
    [InlineData("v1=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg")]
    [InlineData("v2=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("V1=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Verify_SignatureNotV1Hex_IsMalformed(string signature) =>
        Assert.Equal(WebhookVerdict.Malformed, Verify(Stamp(NowSeconds), signature));

    [Fact]
    public void Verify_ValidSignatureNextToAMalformedOne_IsMalformed()
    {
        var signature = WebhookSignature.Sign(Secret, NowSeconds, Body) + ",v1=zz";

        Assert.Equal(WebhookVerdict.Malformed, Verify(Stamp(NowSeconds), signature));
    }

    [Fact]
    public void Verify_SignedSixMinutesAgo_IsStale()
    {
        var then = NowSeconds - 360;

        Assert.Equal(WebhookVerdict.Stale, Verify(Stamp(then), WebhookSignature.Sign(Secret, then, Body)));
    }

    [Fact]
    public void Verify_SignedSixMinutesInTheFuture_IsStale()
    {
        var then = NowSeconds + 360;

        Assert.Equal(WebhookVerdict.Stale, Verify(Stamp(then), WebhookSignature.Sign(Secret, then, Body)));
    }

    [Theory]
    [InlineData(-300)]
    [InlineData(-299)]
    [InlineData(299)]
    [InlineData(300)]
    public void Verify_SignedWithinFiveMinutes_IsValid(int offsetSeconds)
    {
        var then = NowSeconds + offsetSeconds;

        Assert.Equal(WebhookVerdict.Valid, Verify(Stamp(then), WebhookSignature.Sign(Secret, then, Body)));
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    public void Verify_SignedJustOutsideFiveMinutes_IsStale(int offsetSeconds)
    {
        var then = NowSeconds + offsetSeconds;

        Assert.Equal(WebhookVerdict.Stale, Verify(Stamp(then), WebhookSignature.Sign(Secret, then, Body)));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("9223372036854775807")]
    public void Verify_TimestampFarFromNow_IsStaleEvenWithoutAValidSignature(string timestamp) =>
        Assert.Equal(WebhookVerdict.Stale, Verify(timestamp, "v1=" + new string('0', 64)));

    [Fact]
    public void Verify_SignedWithAnotherSecret_IsBadSignature()
    {
        var other = WebhookSignature.SecretBytes(WebhookSignature.NewSecret());

        Assert.Equal(WebhookVerdict.BadSignature, Verify(Stamp(NowSeconds), WebhookSignature.Sign(other, NowSeconds, Body)));
    }

    [Fact]
    public void Verify_BodyChangedByOneByte_IsBadSignature()
    {
        var signature = WebhookSignature.Sign(Secret, NowSeconds, Body);
        var changed = (byte[])Body.Clone();
        changed[^3] ^= 0x01;

        Assert.Equal(WebhookVerdict.BadSignature, Verify(Stamp(NowSeconds), signature, changed));
    }

    [Fact]
    public void Verify_BodyWithAByteAppended_IsBadSignature()
    {
        var signature = WebhookSignature.Sign(Secret, NowSeconds, Body);

        Assert.Equal(WebhookVerdict.BadSignature, Verify(Stamp(NowSeconds), signature, [.. Body, (byte)' ']));
    }

    [Fact]
    public void Verify_SignatureOfAnotherTimestampReplayedWithANewOne_IsBadSignature()
    {
        // A captured request replayed later with a fresh timestamp: the signature was over the old one.
        var signature = WebhookSignature.Sign(Secret, NowSeconds - 120, Body);

        Assert.Equal(WebhookVerdict.BadSignature, Verify(Stamp(NowSeconds), signature));
    }

    [Fact]
    public void Verify_RotatedSecrets_AnyMatchingSignatureIsValid()
    {
        var old = WebhookSignature.SecretBytes(WebhookSignature.NewSecret());
        var header = $"{WebhookSignature.Sign(old, NowSeconds, Body)}, {WebhookSignature.Sign(Secret, NowSeconds, Body)}";

        Assert.Equal(WebhookVerdict.Valid, Verify(Stamp(NowSeconds), header));
        Assert.Equal(WebhookVerdict.Valid, Verify(Stamp(NowSeconds), header, secret: old));
        Assert.Equal(WebhookVerdict.BadSignature, Verify(Stamp(NowSeconds), header, secret: WebhookSignature.SecretBytes(WebhookSignature.NewSecret())));
    }

    [Fact]
    public void Verify_FiveSignatures_AreAllChecked()
    {
        var decoys = Enumerable.Range(0, 4).Select(_ => WebhookSignature.Sign(WebhookSignature.SecretBytes(WebhookSignature.NewSecret()), NowSeconds, Body));
        var header = string.Join(',', [.. decoys, WebhookSignature.Sign(Secret, NowSeconds, Body)]);

        Assert.Equal(WebhookVerdict.Valid, Verify(Stamp(NowSeconds), header));
    }

    [Fact]
    public void Verify_MoreThanFiveSignatures_IsMalformed()
    {
        var right = WebhookSignature.Sign(Secret, NowSeconds, Body);
        var header = string.Join(',', Enumerable.Repeat(right, WebhookSignature.MaxSignatures + 1));

        Assert.Equal(WebhookVerdict.Malformed, Verify(Stamp(NowSeconds), header));
    }

    [Fact]
    public void SignAndVerify_EmptySecret_Throw()
    {
        Assert.Throws<ArgumentException>(() => WebhookSignature.Sign([], NowSeconds, Body));
        Assert.Throws<ArgumentException>(() => WebhookSignature.Verify([], Stamp(NowSeconds), "v1=" + new string('0', 64), Body, Now));
    }

    [Fact]
    public void NewSecret_IsWhsecAnd32RandomBytesInBase64UrlWithoutPadding()
    {
        var secret = WebhookSignature.NewSecret();

        Assert.Matches("^whsec_[A-Za-z0-9_-]{43}$", secret);
        Assert.Equal(32, WebhookSignature.SecretBytes(secret).Length);
        Assert.NotEqual(secret, WebhookSignature.NewSecret());
    }

    [Fact]
    public void SecretBytes_RoundTripsTheKeyBytes()
    {
        var bytes = Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 250)).ToArray();
        var secret = "whsec_" + Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        Assert.Equal(bytes, WebhookSignature.SecretBytes(secret));
    }

    [Theory]
    [InlineData("")]
    [InlineData("whsec_")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("whsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("WHSEC_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")]
    [InlineData("whsec_AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA")]
    public void SecretBytes_NotAWebhookSecret_ThrowsFormatException(string secret) =>
        Assert.Throws<FormatException>(() => WebhookSignature.SecretBytes(secret));
}
