using AgentSpace.Admin;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Identity;

/// <summary><c>App user suspend | resume</c>.</summary>
internal static class IdentityAdminCommands
{
    public static IServiceCollection AddIdentityAdminCommands(this IServiceCollection services) => services
        .AddAdminCommand(new AdminCommand("user suspend", "<email>", "Suspend an account: no sign-in; open sessions end within seconds.", "",
            run => SetSuspendedAsync(run, suspend: true)))
        .AddAdminCommand(new AdminCommand("user resume", "<email>", "Lift a suspension.", "", run => SetSuspendedAsync(run, suspend: false)));

    private static async Task<int> SetSuspendedAsync(AdminInvocation run, bool suspend)
    {
        var verb = suspend ? "suspend" : "resume";
        var email = EmailAddress.Normalize(run.Subject);
        if (email is null)
        {
            return await run.UsageErrorAsync($"user {verb} needs a valid <email>.");
        }
        await using var db = await run.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(run.Cancellation);
        var userId = await db.Users.Where(u => u.NormalizedEmail == email).Select(u => (Guid?)u.Id).FirstOrDefaultAsync(run.Cancellation);
        var sessions = run.Get<SessionService>();
        if (userId is null || !(suspend ? await sessions.SuspendAsync(userId.Value, run.Cancellation) : await sessions.ResumeAsync(userId.Value, run.Cancellation)))
        {
            return await run.FailAsync($"no account '{email}'.");
        }
        await run.Output.WriteLineAsync(suspend ? $"Suspended {email}; its open sessions end within seconds." : $"Resumed {email}.");
        return 0;
    }
}
