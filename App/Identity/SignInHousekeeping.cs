using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

/// <summary>
/// Deletes what sign-in leaves behind once it can no longer matter: spent or expired link tokens
/// after a day (rate limits look back only minutes), sessions 30 days after they ended (signed out,
/// or past their lifetime or idle limit).
/// </summary>
public sealed class SignInHousekeeping(IDbContextFactory<PlatformDbContext> factory, TimeProvider clock, IOptions<SignInOptions> options)
{
    public static readonly TimeSpan TokenRetention = TimeSpan.FromDays(1);
    public static readonly TimeSpan EndedSessionRetention = TimeSpan.FromDays(30);

    public async Task<(int Tokens, int Sessions)> PurgeAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var tokenCutoff = now - TokenRetention;
        var sessionCutoff = now - EndedSessionRetention;
        await using var db = await factory.CreateDbContextAsync(ct);
        var tokens = await db.SignInTokens.Where(t => t.ExpiresAt < tokenCutoff).ExecuteDeleteAsync(ct);
        var bornBefore = sessionCutoff - options.Value.SessionLifetime;
        var seenBefore = sessionCutoff - options.Value.SessionIdleTimeout;
        var sessions = await db.Sessions
            .Where(s => (s.RevokedAt != null && s.RevokedAt < sessionCutoff) || s.CreatedAt < bornBefore || s.LastSeenAt < seenBefore)
            .ExecuteDeleteAsync(ct);
        return (tokens, sessions);
    }
}

/// <summary>Runs <see cref="SignInHousekeeping"/> hourly.</summary>
public sealed class SignInHousekeepingService(SignInHousekeeping housekeeping, ILogger<SignInHousekeepingService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        do
        {
            try
            {
                var (tokens, sessions) = await housekeeping.PurgeAsync(stoppingToken);
                if (tokens + sessions > 0)
                {
                    logger.LogInformation("Purged {Tokens} old sign-in token(s) and {Sessions} ended session(s)", tokens, sessions);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Sign-in housekeeping failed; it runs again in an hour");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
