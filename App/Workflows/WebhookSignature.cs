using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AgentSpace.Workflows;

/// <summary>What <see cref="WebhookSignature.Verify"/> made of an inbound webhook request.</summary>
public enum WebhookVerdict
{
    /// <summary>Signed with the workflow's secret within the tolerance: the request may start a run.</summary>
    Valid,

    /// <summary>The timestamp or the signature header is missing or empty.</summary>
    [SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Unsigned as in \"carries no signature\", not the integer type.")]
    Unsigned,

    /// <summary>The timestamp is not a whole number of seconds, or the signature is not a list of <c>v1=</c> + 64 hex digits.</summary>
    Malformed,

    /// <summary>The timestamp is further than <see cref="WebhookSignature.Tolerance"/> from now, in the past or the future.</summary>
    Stale,

    /// <summary>Well formed and current, but no signature matches the secret, the timestamp and the body.</summary>
    BadSignature,
}

/// <summary>
/// Signs and verifies inbound workflow webhooks. The signature is an HMAC-SHA256, keyed with the workflow's secret,
/// over <c>"{timestamp}."</c> followed by the raw body bytes, so neither the body nor the time can be changed without
/// the secret; the tolerance bounds how long a captured request can be replayed (the idempotency key covers the rest).
/// Several <c>v1=</c> values may be sent, comma separated, so a sender can sign with the old and the new secret while
/// a secret is being rotated.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header carrying the signing time, in Unix seconds.</summary>
    public const string TimestampHeader = "X-AgentSpace-Timestamp";

    /// <summary>The header carrying the signature: <c>v1=&lt;lowercase hex HMAC-SHA256&gt;</c>, comma separated when there are several.</summary>
    public const string SignatureHeader = "X-AgentSpace-Signature";

    /// <summary>The header naming one delivery, so a retried delivery starts one run, not two.</summary>
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>The longest idempotency key accepted.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>How far the timestamp may be from now, either way, for the request to count as current.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>The most signatures one header may carry; more is refused as malformed rather than checked one by one.</summary>
    public const int MaxSignatures = 5;

    public const string Scheme = "v1=";
    private const string SecretPrefix = "whsec_";
    private const int SecretLength = 32;
    private const int HashLength = 32;

    // Unix seconds of 9999-12-31T23:59:59Z, the last time DateTimeOffset can hold.
    private const long MaxUnixSeconds = 253_402_300_799;

    private static readonly SearchValues<char> Base64UrlAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>The signature header value for <paramref name="body"/> sent at <paramref name="timestamp"/> (Unix seconds).</summary>
    /// <exception cref="ArgumentException"><paramref name="secret"/> is empty.</exception>
    public static string Sign(ReadOnlySpan<byte> secret, long timestamp, ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[HashLength];
        ComputeHash(secret, timestamp, body, hash);
        return Scheme + Convert.ToHexStringLower(hash);
    }

    /// <summary>
    /// Checks an inbound request's timestamp and signature headers against <paramref name="secret"/> and the raw body
    /// bytes as received (before any parsing). The checks run cheapest first; the signatures are compared in fixed time.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="secret"/> is empty.</exception>
    public static WebhookVerdict Verify(ReadOnlySpan<byte> secret, string? timestampHeader, string? signatureHeader, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        ThrowIfEmpty(secret);
        if (string.IsNullOrWhiteSpace(timestampHeader) || string.IsNullOrWhiteSpace(signatureHeader))
        {
            return WebhookVerdict.Unsigned;
        }
        if (!long.TryParse(timestampHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
        {
            return WebhookVerdict.Malformed;
        }

        Span<byte> candidates = stackalloc byte[MaxSignatures * HashLength];
        var count = 0;
        foreach (var range in signatureHeader.AsSpan().Split(','))
        {
            var value = signatureHeader.AsSpan(range).Trim();
            if (count == MaxSignatures || !TryDecode(value, candidates.Slice(count * HashLength, HashLength)))
            {
                return WebhookVerdict.Malformed;
            }
            count++;
        }

        if (timestamp > MaxUnixSeconds
            || Math.Abs(now.ToUnixTimeMilliseconds() - (timestamp * 1000)) > (long)Tolerance.TotalMilliseconds)
        {
            return WebhookVerdict.Stale;
        }

        Span<byte> expected = stackalloc byte[HashLength];
        ComputeHash(secret, timestamp, body, expected);
        var matched = false;
        for (var i = 0; i < count; i++)
        {
            // No early exit: every candidate costs the same, whichever one matches.
            matched |= CryptographicOperations.FixedTimeEquals(expected, candidates.Slice(i * HashLength, HashLength));
        }
        return matched ? WebhookVerdict.Valid : WebhookVerdict.BadSignature;
    }

    /// <summary>A new webhook secret: <c>whsec_</c> and 32 random bytes in base64url without padding.</summary>
    public static string NewSecret() => SecretPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretLength));

    /// <summary>The key bytes of a secret made by <see cref="NewSecret"/>.</summary>
    /// <exception cref="FormatException">The text is not <c>whsec_</c> and 32 bytes in base64url without padding.</exception>
    public static byte[] SecretBytes(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var encoded = secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret.AsSpan(SecretPrefix.Length) : [];
        // Exactly the characters NewSecret writes: the decoder alone would also take padding and white space.
        if (encoded.Length != Base64Url.GetEncodedLength(SecretLength) || encoded.ContainsAnyExcept(Base64UrlAlphabet))
        {
            throw new FormatException("A webhook secret is \"whsec_\" followed by 43 base64url characters.");
        }
        return Base64Url.DecodeFromChars(encoded);
    }

    private static void ComputeHash(ReadOnlySpan<byte> secret, long timestamp, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        ThrowIfEmpty(secret);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + "."));
        hmac.AppendData(body);
        hmac.GetHashAndReset(destination);
    }

    private static void ThrowIfEmpty(ReadOnlySpan<byte> secret)
    {
        if (secret.IsEmpty)
        {
            // An empty key makes every signature computable by anyone: a missing secret is a bug, not a setting.
            throw new ArgumentException("The webhook secret is empty.", nameof(secret));
        }
    }

    private static bool TryDecode(ReadOnlySpan<char> value, Span<byte> destination) =>
        value.Length == Scheme.Length + (HashLength * 2)
        && value.StartsWith(Scheme, StringComparison.Ordinal)
        && Convert.FromHexString(value[Scheme.Length..], destination, out _, out var written) == OperationStatus.Done
        && written == HashLength;
}
