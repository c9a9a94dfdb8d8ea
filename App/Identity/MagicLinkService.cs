using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Email;
using AgentSpace.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

public enum MagicLinkRequestResult
{
    /// <summary>A link was sent if the address can receive one. Shown the same way for known and unknown emails.</summary>
    Sent,
    InvalidEmail,
    RateLimited,
    /// <summary>The outgoing mail queue is full: nothing was sent and the user is told to try again later.</summary>
    EmailUnavailable,
}

public sealed record RedeemResult(bool Ok, AppUser? User, string? Error);

/// <summary>Passwordless sign-in: issue a single-use, 15-minute link and redeem it.</summary>
public sealed class MagicLinkService(
    IDbContextFactory<PlatformDbContext> factory,
    EmailQueue email,
    AuditLog audit,
    PublicUrl publicUrl,
    TimeProvider clock,
    IOptions<SignInOptions> options,
    ILogger<MagicLinkService> logger)
{
    public async Task<MagicLinkRequestResult> RequestAsync(string? rawEmail, string? ip, string? returnUrl, CancellationToken ct)
    {
        var o = options.Value;
        var emailAddress = EmailAddress.Normalize(rawEmail);
        if (emailAddress is null)
        {
            return MagicLinkRequestResult.InvalidEmail;
        }
        var emailKey = EmailAddress.RateKey(emailAddress);
        var ipBucket = ClientAddress.Bucket(ip);
        var now = clock.GetUtcNow();
        var windowStart = now.AddMinutes(-o.RateWindowMinutes);
        var (token, hash) = OpaqueToken.Create();
        string? limit;
        var queued = false;
        await using (var db = await factory.CreateDbContextAsync(ct))
        {
            // Count and insert under a lock per mailbox and per client bucket, so parallel requests cannot
            // all read the same count and all pass. Taken in a fixed order: two requests never wait on each other crosswise.
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            foreach (var key in new[] { LockKey("email", emailKey), LockKey("ip", ipBucket) }.Order())
            {
                await db.Database.ExecuteSqlAsync($"select pg_advisory_xact_lock({key})", ct);
            }
            var recent = db.SignInTokens.Where(t => t.CreatedAt > windowStart);
            limit = await recent.CountAsync(t => t.EmailKey == emailKey, ct) >= o.MaxRequestsPerEmail ? "email"
                : await recent.CountAsync(t => t.IpBucket == ipBucket, ct) >= o.MaxRequestsPerIp ? "ip"
                // Not under a lock of its own: a ceiling against floods, which concurrent requests may pass by a few.
                : await recent.CountAsync(ct) >= o.MaxRequestsGlobalPerWindow ? "global"
                : null;
            if (limit is null)
            {
                // The same work happens whether or not an account exists: the link creates the account when used.
                db.SignInTokens.Add(new SignInToken
                {
                    Id = Guid.NewGuid(),
                    Email = emailAddress,
                    EmailKey = emailKey,
                    TokenHash = hash,
                    RequestIp = ip,
                    IpBucket = ipBucket,
                    CreatedAt = now,
                    ExpiresAt = now.AddMinutes(o.TokenLifetimeMinutes),
                });
                await db.SaveChangesAsync(ct);
                // Queued before the commit (a memory write, not a send): a full queue rolls the token back, so a
                // request that sent nothing does not use up the address's allowance.
                queued = email.Enqueue(SignInMessage(emailAddress, token, returnUrl, o));
                if (queued)
                {
                    await tx.CommitAsync(ct);
                }
            }
        }

        if (limit is not null)
        {
            await audit.AppendPlatformAsync(new AuditEntry(IdentityAuditActions.SignInRateLimited, AuditOutcome.Denied, ActorEmail: emailAddress, Ip: ip,
                Details: new Dictionary<string, string?> { ["limit"] = limit }), ct);
            return MagicLinkRequestResult.RateLimited;
        }
        if (!queued)
        {
            logger.LogError("Sign-in link not sent: the email queue is full. The user was asked to try again in a few minutes");
            await audit.AppendPlatformAsync(new AuditEntry(IdentityAuditActions.SignInRequested, AuditOutcome.Failure, ActorEmail: emailAddress, Ip: ip,
                Details: new Dictionary<string, string?> { ["reason"] = "email-queue-full" }), ct);
            return MagicLinkRequestResult.EmailUnavailable;
        }
        await audit.AppendPlatformAsync(new AuditEntry(IdentityAuditActions.SignInRequested, AuditOutcome.Success, ActorEmail: emailAddress, Ip: ip), ct);
        return MagicLinkRequestResult.Sent;
    }

    private EmailMessage SignInMessage(string emailAddress, string token, string? returnUrl, SignInOptions o)
    {
        var link = publicUrl.For($"/auth/redeem?email={Uri.EscapeDataString(emailAddress)}&token={token}");
        if (IsLocalReturnUrl(returnUrl))
        {
            link += "&returnUrl=" + Uri.EscapeDataString(returnUrl!);
        }
        return new EmailMessage(
            emailAddress,
            "Your AgentSpace sign-in link",
            $"Sign in to AgentSpace:\n\n{link}\n\nThe link works once and expires in {o.TokenLifetimeMinutes} minutes. If you did not ask for it, ignore this email.",
            $"<p>Sign in to AgentSpace:</p><p><a href=\"{WebUtility.HtmlEncode(link)}\">Sign in</a></p><p>The link works once and expires in {o.TokenLifetimeMinutes} minutes. If you did not ask for it, ignore this email.</p>");
    }

    /// <summary>A 64-bit advisory-lock key for one rate-limit bucket, namespaced so it cannot meet another feature's lock.</summary>
    private static long LockKey(string kind, string bucket) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"agentspace.signin-rate:{kind}:{bucket}")));

    /// <summary>
    /// Spends the token (atomically, once) and returns the account, creating it on first use.
    /// The token must have been issued to <paramref name="rawEmail"/>.
    /// </summary>
    public async Task<RedeemResult> RedeemAsync(string? rawEmail, string? token, string? ip, CancellationToken ct)
    {
        var emailAddress = EmailAddress.Normalize(rawEmail);
        if (emailAddress is null || !OpaqueToken.LooksValid(token))
        {
            await Failed(emailAddress, ip, "malformed", ct);
            return new RedeemResult(false, null, "This sign-in link is not valid.");
        }
        var hash = OpaqueToken.Hash(token!);
        var now = clock.GetUtcNow();
        await using var db = await factory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var spent = await db.SignInTokens
            .Where(t => t.TokenHash == hash && t.Email == emailAddress && t.UsedAt == null && t.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), ct);
        if (spent != 1)
        {
            await tx.RollbackAsync(ct);
            var reason = await db.SignInTokens.AsNoTracking().Where(t => t.TokenHash == hash)
                .Select(t => t.Email != emailAddress ? "wrong-email" : t.UsedAt != null ? "already-used" : "expired")
                .FirstOrDefaultAsync(ct) ?? "unknown";
            await Failed(emailAddress, ip, reason, ct);
            return new RedeemResult(false, null, "This sign-in link has expired or was already used. Ask for a new one.");
        }

        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == emailAddress, ct);
        if (user is null)
        {
            user = AppUser.Create(emailAddress, now);
            db.Users.Add(user);
        }
        else if (user.SuspendedAt is not null)
        {
            await tx.RollbackAsync(ct);
            await Failed(emailAddress, ip, "suspended", ct);
            return new RedeemResult(false, null, "This account is suspended.");
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new RedeemResult(true, user, null);
    }

    /// <summary>
    /// True only for a plain path on this site. Browsers drop tabs and newlines from URLs and read a
    /// backslash as a slash, so "/\t/evil.example" or "/\\evil.example" leave the site; a value is also
    /// decoded on its way through links and forms, so "/%2F%2Fevil.example" may become "//evil.example".
    /// Hence: no control character, whitespace or backslash, and no "//", in the value or in any decoding of it.
    /// </summary>
    public static bool IsLocalReturnUrl(string? url)
    {
        if (string.IsNullOrEmpty(url) || url.Length >= 500 || url[0] != '/' || url.Any(c => c is < '!' or > '~'))
        {
            return false;
        }
        var form = url;
        for (var round = 0; round < 4; round++)
        {
            if (form.Contains("//", StringComparison.Ordinal) || form.Any(c => c == '\\' || char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                return false;
            }
            var decoded = Uri.UnescapeDataString(form);
            if (decoded == form)
            {
                return Uri.TryCreate(url, UriKind.Relative, out _);
            }
            form = decoded;
        }
        // Still changing after four decodings: nothing legitimate is encoded that deep.
        return false;
    }

    private Task<AuditEvent> Failed(string? emailAddress, string? ip, string reason, CancellationToken ct) =>
        audit.AppendPlatformAsync(new AuditEntry(IdentityAuditActions.SignInFailed, AuditOutcome.Failure, ActorEmail: emailAddress, Ip: ip,
            Details: new Dictionary<string, string?> { ["reason"] = reason }), ct);
}
