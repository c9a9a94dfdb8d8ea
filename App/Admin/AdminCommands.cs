using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Admin;

/// <summary>
/// Operator commands: <c>dotnet run --project App -- migrate | tenant create|list|delete | audit verify</c>.
/// Exit codes: 0 done, 1 failed, 2 bad usage.
/// </summary>
public static class AdminCommands
{
    private const string Usage = """
        Usage: App <command> [options]

        Commands:
          migrate                               Apply platform migrations, then bring every tenant up to date.
          tenant create <slug> --owner <email>  Create an organization owned by <email> (account created if new).
          tenant list                           List organizations with schema and member count.
          tenant delete <slug> --yes            Delete an organization: drops its schema, role and memberships.
          user suspend <email>                  Suspend an account: no sign-in; open sessions end within seconds.
          user resume <email>                   Lift a suspension.
          audit verify <slug> [--expect-head S:H]
                                                Verify an organization's audit hash chain; prints its head.
          audit verify --platform [--expect-head S:H]
                                                Verify the platform audit chain (sign-ins, deletions).

        Add --help to any command for its details. Exit codes: 0 success, 1 failure, 2 usage error.
        """;

    public static bool IsAdminCommand(string[] args) =>
        args.Length > 0 && args[0] is "migrate" or "tenant" or "user" or "audit" or "help" or "--help" or "-h";

    public static async Task<int> RunAsync(string[] args, IServiceProvider services, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args[0] is "help" or "--help" or "-h")
        {
            await output.WriteLineAsync(Usage);
            return 0;
        }
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var ct = cts.Token;
        try
        {
            return (args[0], args.ElementAtOrDefault(1)) switch
            {
                ("migrate", _) => await MigrateAsync(args, sp, output, error, ct),
                ("tenant", "create") => await TenantCreateAsync(args, sp, output, error, ct),
                ("tenant", "list") => await TenantListAsync(args, sp, output, ct),
                ("tenant", "delete") => await TenantDeleteAsync(args, sp, output, error, ct),
                ("user", "suspend") => await UserSuspendAsync(args, sp, output, error, suspend: true, ct),
                ("user", "resume") => await UserSuspendAsync(args, sp, output, error, suspend: false, ct),
                ("audit", "verify") => await AuditVerifyAsync(args, sp, output, error, ct),
                _ => await UsageErrorAsync(error, $"Unknown command: {string.Join(' ', args.Take(2))}"),
            };
        }
        catch (OrgRuleException ex)
        {
            await error.WriteLineAsync("error: " + ex.Message);
            return 1;
        }
        catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.UndefinedTable && args[0] != "migrate")
        {
            await error.WriteLineAsync("error: the database has not been migrated yet. Run: App migrate");
            return 1;
        }
        catch (Npgsql.NpgsqlException ex)
        {
            await error.WriteLineAsync("error: database: " + ex.Message);
            return 1;
        }
    }

    private static async Task<int> MigrateAsync(string[] args, IServiceProvider sp, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (WantsHelp(args))
        {
            await output.WriteLineAsync("Usage: App migrate\n\nApplies the platform migrations, then migrates every tenant schema, reporting each.");
            return 0;
        }
        var migrator = sp.GetRequiredService<SchemaMigrator>();
        await output.WriteLineAsync("Migrating platform schema...");
        var report = await migrator.MigrateAllAsync(new SyncProgress<TenantMigrationResult>(r =>
        {
            var status = r.Error is null ? $"ok ({r.Applied} applied)" : "FAILED: " + r.Error;
            output.WriteLine($"[{r.Index}/{r.Total}] {r.Slug}: {status} in {r.Elapsed.TotalMilliseconds:F0} ms");
        }), ct);
        await output.WriteLineAsync($"Done: {report.Tenants.Count} tenant(s) in {report.Elapsed.TotalSeconds:F1} s.");
        if (!report.Ok)
        {
            await error.WriteLineAsync($"error: {report.Tenants.Count(t => t.Error is not null)} tenant(s) failed to migrate.");
            return 1;
        }
        return 0;
    }

    private static async Task<int> TenantCreateAsync(string[] args, IServiceProvider sp, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (WantsHelp(args))
        {
            await output.WriteLineAsync("Usage: App tenant create <slug> --owner <email> [--name <display name>]");
            return 0;
        }
        var slug = args.ElementAtOrDefault(2);
        var owner = Option(args, "--owner");
        if (slug is null || slug.StartsWith('-') || owner is null)
        {
            return await UsageErrorAsync(error, "tenant create needs <slug> and --owner <email>.");
        }
        var email = EmailAddress.Normalize(owner);
        if (email is null)
        {
            return await UsageErrorAsync(error, $"'{owner}' is not a valid email address.");
        }
        if (OrganizationService.ValidateSlug(slug) is { } problem)
        {
            return await UsageErrorAsync(error, problem);
        }
        var user = await FindOrCreateUserAsync(sp, email, ct);
        var orgs = sp.GetRequiredService<OrganizationService>();
        var created = await orgs.CreateAsync(new Actor(user.Id, email, null), slug, Option(args, "--name") ?? slug, ct);
        await output.WriteLineAsync($"Created {created.Slug} ({created.Id}) owned by {email}.");
        return 0;
    }

    private static async Task<int> TenantListAsync(string[] args, IServiceProvider sp, TextWriter output, CancellationToken ct)
    {
        if (WantsHelp(args))
        {
            await output.WriteLineAsync("Usage: App tenant list");
            return 0;
        }
        await using var db = await sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(ct);
        var rows = await db.Organizations.AsNoTracking().OrderBy(o => o.Slug)
            .Select(o => new { o.Slug, o.Name, o.SchemaName, o.CreatedAt, Members = o.Members.Count }).ToListAsync(ct);
        if (rows.Count == 0)
        {
            await output.WriteLineAsync("No organizations yet. Create one with: App tenant create <slug> --owner <email>");
            return 0;
        }
        await output.WriteLineAsync($"{"SLUG",-40} {"SCHEMA",-35} {"MEMBERS",7}  CREATED (UTC)  NAME");
        foreach (var r in rows)
        {
            await output.WriteLineAsync($"{r.Slug,-40} {r.SchemaName,-35} {r.Members,7}  {r.CreatedAt.UtcDateTime:yyyy-MM-dd}     {r.Name}");
        }
        return 0;
    }

    private static async Task<int> TenantDeleteAsync(string[] args, IServiceProvider sp, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (WantsHelp(args))
        {
            await output.WriteLineAsync("Usage: App tenant delete <slug> --yes\n\nDeletes the organization, its schema (all its data) and its role. Cannot be undone.");
            return 0;
        }
        var slug = args.ElementAtOrDefault(2);
        if (slug is null || slug.StartsWith('-'))
        {
            return await UsageErrorAsync(error, "tenant delete needs <slug>.");
        }
        if (!args.Contains("--yes"))
        {
            return await UsageErrorAsync(error, $"This deletes '{slug}' and all its data. Add --yes to confirm.");
        }
        if (!await sp.GetRequiredService<OrganizationService>().DeleteAsOperatorAsync(slug, ct))
        {
            await error.WriteLineAsync($"error: no organization '{slug}'.");
            return 1;
        }
        await output.WriteLineAsync($"Deleted {slug}.");
        return 0;
    }

    private static async Task<int> UserSuspendAsync(string[] args, IServiceProvider sp, TextWriter output, TextWriter error, bool suspend, CancellationToken ct)
    {
        var verb = suspend ? "suspend" : "resume";
        if (WantsHelp(args))
        {
            await output.WriteLineAsync($"Usage: App user {verb} <email>");
            return 0;
        }
        var email = EmailAddress.Normalize(args.ElementAtOrDefault(2));
        if (email is null)
        {
            return await UsageErrorAsync(error, $"user {verb} needs a valid <email>.");
        }
        await using var db = await sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(ct);
        var normalized = email.ToUpperInvariant();
        var userId = await db.Users.Where(u => u.NormalizedEmail == normalized).Select(u => (Guid?)u.Id).FirstOrDefaultAsync(ct);
        var sessions = sp.GetRequiredService<SessionService>();
        if (userId is null || !(suspend ? await sessions.SuspendAsync(userId.Value, ct) : await sessions.ResumeAsync(userId.Value, ct)))
        {
            await error.WriteLineAsync($"error: no account '{email}'.");
            return 1;
        }
        await output.WriteLineAsync(suspend ? $"Suspended {email}; its open sessions end within seconds." : $"Resumed {email}.");
        return 0;
    }

    private static async Task<int> AuditVerifyAsync(string[] args, IServiceProvider sp, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (WantsHelp(args))
        {
            await output.WriteLineAsync(
                "Usage: App audit verify <slug> | --platform [--expect-head <seq>:<hash>]\n\n" +
                "Recomputes the hash chain; exit code 1 and the first broken row if it was altered.\n" +
                "On success prints the head (<seq>:<hash>). Keep it outside the database; passing it back with\n" +
                "--expect-head later also catches a history rewritten with fresh hashes, or cut short.");
            return 0;
        }
        AuditHead? expected = null;
        if (Option(args, "--expect-head") is { } headText && !AuditHead.TryParse(headText, out expected))
        {
            return await UsageErrorAsync(error, "--expect-head takes <seq>:<64 hex digits>, as printed by a previous verify.");
        }
        var log = sp.GetRequiredService<AuditLog>();
        AuditVerification result;
        var target = args.ElementAtOrDefault(2);
        if (target == "--platform")
        {
            result = await log.VerifyPlatformAsync(ct, expected);
        }
        else if (target is null || target.StartsWith('-'))
        {
            return await UsageErrorAsync(error, "audit verify needs <slug> or --platform.");
        }
        else
        {
            await using var db = await sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(ct);
            var schema = await db.Organizations.AsNoTracking().Where(o => o.Slug == target).Select(o => o.SchemaName).FirstOrDefaultAsync(ct);
            if (schema is null)
            {
                await error.WriteLineAsync($"error: no organization '{target}'.");
                return 1;
            }
            result = await log.VerifyAsync(TenantSchemaName.Parse(schema), ct, expected);
        }
        await (result.Ok ? output : error).WriteLineAsync(result.Message);
        if (result is { Ok: true, Head: { } head })
        {
            await output.WriteLineAsync($"head: {head}");
        }
        return result.Ok ? 0 : 1;
    }

    private static async Task<AppUser> FindOrCreateUserAsync(IServiceProvider sp, string email, CancellationToken ct)
    {
        await using var db = await sp.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(ct);
        var normalized = email.ToUpperInvariant();
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == normalized, ct);
        if (user is not null)
        {
            return user;
        }
        user = AppUser.Create(email, sp.GetRequiredService<TimeProvider>().GetUtcNow());
        db.Users.Add(user);
        await db.SaveChangesAsync(ct);
        return user;
    }

    private static bool WantsHelp(string[] args) => args.Contains("--help") || args.Contains("-h");

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static async Task<int> UsageErrorAsync(TextWriter error, string message)
    {
        await error.WriteLineAsync("error: " + message);
        await error.WriteLineAsync("Run 'App --help' for usage.");
        return 2;
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
