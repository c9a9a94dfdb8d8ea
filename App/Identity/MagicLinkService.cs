using System.Net;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Email;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

public enum MagicLinkRequestResult
{
    /// <summary>A link was sent if the address can receive one. Shown the same way for known and unknown emails.</summary>
    Sent,
    InvalidEmail,
    RateLimited,
}

public sealed record RedeemResult(bool Ok, AppUser? User, string? Error);

/// <summary>Passwordless sign-in: issue a single-use, 15-minute link and redeem it.</summary>
public sealed class MagicLinkService(
    IDbContextFactory<PlatformDbContext> factory,
    EmailQueue email,
    AuditLog audit,
    TimeProvider clock,
    IOptions<SignInOptions> options)
{
    public async Task<MagicLinkRequestResult> RequestAsync(string? rawEmail, string? ip, string baseUrl, string? returnUrl, CancellationToken ct)
    {
        var o = options.Value;
        var emailAddress = EmailAddress.Normalize(rawEmail);
        if (emailAddress is null)
        {
            return MagicLinkRequestResult.InvalidEmail;
        }
        var now = clock.GetUtcNow();
        var windowStart = now.AddMinutes(-o.RateWindowMinutes);
        await using var db = await factory.CreateDbContextAsync(ct);
        var perEmail = await db.SignInTokens.CountAsync(t => t.Email == emailAddress && t.CreatedAt > windowStart, ct);
        var perIp = ip is null ? 0 : await db.SignInTokens.CountAsync(t => t.RequestIp == ip && t.CreatedAt > windowStart, ct);
        if (perEmail >= o.MaxRequestsPerEmail || perIp >= o.MaxRequestsPerIp)
        {
            await audit.AppendPlatformAsync(new AuditEntry(AuditActions.SignInRateLimited, AuditOutcome.Denied, ActorEmail: emailAddress, Ip: ip,
                Details: new Dictionary<string, string?> { ["limit"] = perEmail >= o.MaxRequestsPerEmail ? "email" : "ip" }), ct);
            return MagicLinkRequestResult.RateLimited;
        }

        // The same work happens whether or not an account exists: the link creates the account when used.
        var (token, hash) = OpaqueToken.Create();
        db.SignInTokens.Add(new SignInToken
        {
            Id = Guid.NewGuid(),
            Email = emailAddress,
            TokenHash = hash,
            RequestIp = ip,
            CreatedAt = now,
            ExpiresAt = now.AddMinutes(o.TokenLifetimeMinutes),
        });
        await db.SaveChangesAsync(ct);
        await audit.AppendPlatformAsync(new AuditEntry(AuditActions.SignInRequested, AuditOutcome.Success, ActorEmail: emailAddress, Ip: ip), ct);

        var link = $"{baseUrl.TrimEnd('/')}/auth/redeem?email={Uri.EscapeDataString(emailAddress)}&token={token}";
        if (IsLocalReturnUrl(returnUrl))
        {
            link += "&returnUrl=" + Uri.EscapeDataString(returnUrl!);
        }
        email.Enqueue(new EmailMessage(
            emailAddress,
            "Your AgentSpace sign-in link",
            $"Sign in to AgentSpace:\n\n{link}\n\nThe link works once and expires in {o.TokenLifetimeMinutes} minutes. If you did not ask for it, ignore this email.",
            $"<p>Sign in to AgentSpace:</p><p><a href=\"{WebUtility.HtmlEncode(link)}\">Sign in</a></p><p>The link works once and expires in {o.TokenLifetimeMinutes} minutes. If you did not ask for it, ignore this email.</p>"));
        return MagicLinkRequestResult.Sent;
    }

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

        var normalized = emailAddress.ToUpperInvariant();
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == normalized, ct);
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

    public static bool IsLocalReturnUrl(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal) && url.Length < 500;

    private Task<AuditEvent> Failed(string? emailAddress, string? ip, string reason, CancellationToken ct) =>
        audit.AppendPlatformAsync(new AuditEntry(AuditActions.SignInFailed, AuditOutcome.Failure, ActorEmail: emailAddress, Ip: ip,
            Details: new Dictionary<string, string?> { ["reason"] = reason }), ct);
}
