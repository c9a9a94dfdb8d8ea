using AgentSpace.Admin;
using AgentSpace.Data;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Audit;

/// <summary><c>App audit verify</c>.</summary>
internal static class AuditAdminCommands
{
    public static IServiceCollection AddAuditAdminCommands(this IServiceCollection services) =>
        services.AddAdminCommand(new AdminCommand("audit verify", "<slug> | --platform [--expect-head <seq>:<hash>]",
            "Verify an organization's (or the platform's) audit hash chain; prints its head.",
            "Recomputes the hash chain; exit code 1 and the first broken row if it was altered.\n" +
            "On success prints the head (<seq>:<hash>). Keep it outside the database; passing it back with\n" +
            "--expect-head later also catches a history rewritten with fresh hashes, or cut short.",
            VerifyAsync));

    private static async Task<int> VerifyAsync(AdminInvocation run)
    {
        AuditHead? expected = null;
        if (run.Option("--expect-head") is { } headText && !AuditHead.TryParse(headText, out expected))
        {
            return await run.UsageErrorAsync("--expect-head takes <seq>:<64 hex digits>, as printed by a previous verify.");
        }
        var log = run.Get<AuditLog>();
        AuditVerification result;
        if (run.Has("--platform"))
        {
            result = await log.VerifyPlatformAsync(run.Cancellation, expected);
        }
        else if (run.Subject is not { } slug)
        {
            return await run.UsageErrorAsync("audit verify needs <slug> or --platform.");
        }
        else
        {
            await using var db = await run.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(run.Cancellation);
            var schema = await db.Organizations.AsNoTracking().Where(o => o.Slug == slug).Select(o => o.SchemaName).FirstOrDefaultAsync(run.Cancellation);
            if (schema is null)
            {
                return await run.FailAsync($"no organization '{slug}'.");
            }
            result = await log.VerifyAsync(TenantSchemaName.Parse(schema), run.Cancellation, expected);
        }
        await (result.Ok ? run.Output : run.Error).WriteLineAsync(result.Message);
        if (result is { Ok: true, Head: { } head })
        {
            await run.Output.WriteLineAsync($"head: {head}");
        }
        return result.Ok ? 0 : 1;
    }
}
