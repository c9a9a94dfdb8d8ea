using System.Linq.Expressions;
using System.Security.Claims;
using AgentSpace.Audit;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

/// <summary>Server-side sessions behind the cookie: sign-out, sign-out-everywhere and suspension end them for good.</summary>
public sealed record SessionRow(Guid Id, DateTimeOffset CreatedAt, string? Ip, string? UserAgent, bool Current);

public sealed class SessionService(IDbContextFactory<PlatformDbContext> factory, AuditLog audit, TimeProvider clock, IOptions<SignInOptions> options)
{
    public const string SessionClaim = "sid";

    /// <summary>Last use is written at most this often, so an active user does not cost a write per request.</summary>
    public static readonly TimeSpan LastSeenGranularity = TimeSpan.FromMinutes(1);

    /// <summary>Open: not ended, younger than the absolute lifetime, and used within the idle limit.</summary>
    private Expression<Func<UserSession, bool>> OpenAt(DateTimeOffset now)
    {
        var o = options.Value;
        var bornAfter = now - o.SessionLifetime;
        var seenAfter = now - o.SessionIdleTimeout;
        return s => s.RevokedAt == null && s.CreatedAt > bornAfter && s.LastSeenAt > seenAfter;
    }

    public async Task<ClaimsPrincipal> StartAsync(AppUser user, string? ip, string? userAgent, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        var now = clock.GetUtcNow();
        var session = new UserSession
        {
            Id = Guid.NewGuid(),
            UserId = user.Id,
            CreatedAt = now,
            LastSeenAt = now,
            Ip = ip,
            UserAgent = userAgent is { Length: > 400 } ? userAgent[..400] : userAgent,
        };
        await ChangeAsync(async db =>
        {
            db.Sessions.Add(session);
            await db.SaveChangesAsync(ct);
            return (true, new AuditEntry(IdentityAuditActions.SignInSucceeded, AuditOutcome.Success, user.Id, user.Email, Ip: ip));
        }, ct);
        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, user.Id.ToString()),
            new Claim(ClaimTypes.Name, user.Email!),
            new Claim(ClaimTypes.Email, user.Email!),
            new Claim(SessionClaim, session.Id.ToString()),
        ], "MagicLink");
        return new ClaimsPrincipal(identity);
    }

    /// <summary>Checks the session without counting the check as use.</summary>
    public Task<bool> IsActiveAsync(ClaimsPrincipal principal, CancellationToken ct) => IsActiveAsync(principal, recordUse: false, ct);

    /// <summary>
    /// True while the session is open (<see cref="SignInOptions.SessionLifetime"/>, <see cref="SignInOptions.SessionIdleTimeout"/>)
    /// and its account is not suspended. The cookie check and the circuits' revalidation both ask this, so an
    /// expired session ends open circuits too. <paramref name="recordUse"/> marks the session as used now
    /// (the idle limit counts from the last use).
    /// </summary>
    public async Task<bool> IsActiveAsync(ClaimsPrincipal principal, bool recordUse, CancellationToken ct)
    {
        if (!TryRead(principal, out var userId, out var sessionId))
        {
            return false;
        }
        var now = clock.GetUtcNow();
        await using var db = await factory.CreateDbContextAsync(ct);
        var lastSeen = await db.Sessions.AsNoTracking()
            .Where(s => s.Id == sessionId && s.UserId == userId)
            .Where(OpenAt(now))
            .Join(db.Users.Where(u => u.SuspendedAt == null), s => s.UserId, u => u.Id, (s, u) => (DateTimeOffset?)s.LastSeenAt)
            .FirstOrDefaultAsync(ct);
        if (lastSeen is null)
        {
            return false;
        }
        if (recordUse && now - lastSeen.Value >= LastSeenGranularity)
        {
            var staleBefore = now - LastSeenGranularity;
            await db.Sessions.Where(s => s.Id == sessionId && s.LastSeenAt <= staleBefore)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, now), ct);
        }
        return true;
    }

    public async Task EndAsync(ClaimsPrincipal principal, string? ip, CancellationToken ct)
    {
        if (!TryRead(principal, out var userId, out var sessionId))
        {
            return;
        }
        var now = clock.GetUtcNow();
        await ChangeAsync(async db =>
        {
            await db.Sessions.Where(s => s.Id == sessionId && s.RevokedAt == null).ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), ct);
            return (true, new AuditEntry(IdentityAuditActions.SignOut, AuditOutcome.Success, userId, principal.FindFirstValue(ClaimTypes.Email), Ip: ip));
        }, ct);
    }

    /// <summary>The signed-in account's open sessions, newest first; the caller's own is marked.</summary>
    public async Task<IReadOnlyList<SessionRow>> ListOpenAsync(ClaimsPrincipal principal, CancellationToken ct)
    {
        if (!TryRead(principal, out var userId, out var current))
        {
            return [];
        }
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.Sessions.AsNoTracking()
            .Where(s => s.UserId == userId)
            .Where(OpenAt(clock.GetUtcNow()))
            .OrderByDescending(s => s.CreatedAt)
            .Select(s => new SessionRow(s.Id, s.CreatedAt, s.Ip, s.UserAgent, s.Id == current))
            .ToListAsync(ct);
    }

    /// <summary>Ends one of the caller's own sessions (another browser or device). Another account's session id does nothing.</summary>
    public async Task<bool> EndOneAsync(ClaimsPrincipal principal, Guid sessionId, string? ip, CancellationToken ct)
    {
        if (!TryRead(principal, out var userId, out _))
        {
            return false;
        }
        var now = clock.GetUtcNow();
        return await ChangeAsync(async db =>
        {
            var ended = await db.Sessions.Where(s => s.Id == sessionId && s.UserId == userId && s.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), ct);
            return (ended == 1, new AuditEntry(IdentityAuditActions.SignOutSession, ended == 1 ? AuditOutcome.Success : AuditOutcome.Denied,
                userId, principal.FindFirstValue(ClaimTypes.Email), sessionId.ToString(), ip));
        }, ct);
    }

    public async Task<int> EndAllAsync(Guid userId, string? email, string? ip, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return await ChangeAsync(async db =>
        {
            var ended = await db.Sessions.Where(s => s.UserId == userId && s.RevokedAt == null).ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), ct);
            return (ended, new AuditEntry(IdentityAuditActions.SignOutEverywhere, AuditOutcome.Success, userId, email, Ip: ip,
                Details: new Dictionary<string, string?> { ["sessions"] = ended.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        }, ct);
    }

    /// <summary>Suspends an account: it cannot sign in, and its open sessions and circuits end at the next check.</summary>
    public async Task<bool> SuspendAsync(Guid userId, CancellationToken ct) => await SetSuspendedAsync(userId, suspend: true, ct);

    public async Task<bool> ResumeAsync(Guid userId, CancellationToken ct) => await SetSuspendedAsync(userId, suspend: false, ct);

    private async Task<bool> SetSuspendedAsync(Guid userId, bool suspend, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        return await ChangeAsync(async db =>
        {
            var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
            if (user is null)
            {
                return (false, null);
            }
            user.SuspendedAt = suspend ? now : null;
            await db.SaveChangesAsync(ct);
            if (suspend)
            {
                await db.Sessions.Where(s => s.UserId == userId && s.RevokedAt == null).ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), ct);
            }
            return (true, AuditEntry.ByOperator(suspend ? IdentityAuditActions.AccountSuspended : IdentityAuditActions.AccountResumed, user.Email));
        }, ct);
    }

    /// <summary>
    /// Runs a change to sessions or an account and appends the platform audit row that records it in the same
    /// transaction: the change is kept only with its row. A null entry records nothing (nothing was changed).
    /// </summary>
    private async Task<T> ChangeAsync<T>(Func<PlatformDbContext, Task<(T Result, AuditEntry? Entry)>> change, CancellationToken ct)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var (result, entry) = await change(db);
        if (entry is not null)
        {
            await audit.AppendPlatformAsync(db, entry, ct);
        }
        await tx.CommitAsync(ct);
        return result;
    }

    public static bool TryRead(ClaimsPrincipal? principal, out Guid userId, out Guid sessionId)
    {
        sessionId = Guid.Empty;
        return Guid.TryParse(principal?.FindFirstValue(ClaimTypes.NameIdentifier), out userId)
            & Guid.TryParse(principal?.FindFirstValue(SessionClaim), out sessionId);
    }

    public static Actor? ActorOf(ClaimsPrincipal? principal, string? ip) =>
        TryRead(principal, out var userId, out _) && principal!.FindFirstValue(ClaimTypes.Email) is { } email
            ? new Actor(userId, email, ip)
            : null;
}
