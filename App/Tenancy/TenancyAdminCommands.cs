using AgentSpace.Admin;
using AgentSpace.Data;
using AgentSpace.Identity;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tenancy;

/// <summary><c>App tenant create | list | delete</c>.</summary>
internal static class TenancyAdminCommands
{
    public static IServiceCollection AddTenancyAdminCommands(this IServiceCollection services) => services
        .AddAdminCommand(new AdminCommand("tenant create", "<slug> --owner <email> [--name <display name>]",
            "Create an organization owned by <email> (account created if new).", "", CreateAsync))
        .AddAdminCommand(new AdminCommand("tenant list", "", "List organizations with schema and member count.", "", ListAsync))
        .AddAdminCommand(new AdminCommand("tenant delete", "<slug> --yes", "Delete an organization: drops its schema, role and memberships.",
            "Deletes the organization, its schema (all its data) and its role. Cannot be undone.", DeleteAsync));

    private static async Task<int> CreateAsync(AdminInvocation run)
    {
        var slug = run.Subject;
        var owner = run.Option("--owner");
        if (slug is null || owner is null)
        {
            return await run.UsageErrorAsync("tenant create needs <slug> and --owner <email>.");
        }
        var email = EmailAddress.Normalize(owner);
        if (email is null)
        {
            return await run.UsageErrorAsync($"'{owner}' is not a valid email address.");
        }
        if (OrganizationService.ValidateSlug(slug) is { } problem)
        {
            return await run.UsageErrorAsync(problem);
        }
        var user = await FindOrCreateUserAsync(run, email);
        var created = await run.Get<OrganizationService>().CreateAsync(new Actor(user.Id, email, null), slug, run.Option("--name") ?? slug, run.Cancellation);
        await run.Output.WriteLineAsync($"Created {created.Slug} ({created.Id}) owned by {email}.");
        return 0;
    }

    private static async Task<int> ListAsync(AdminInvocation run)
    {
        await using var db = await run.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(run.Cancellation);
        var rows = await db.Organizations.AsNoTracking().OrderBy(o => o.Slug)
            .Select(o => new { o.Slug, o.Name, o.SchemaName, o.CreatedAt, Members = o.Members.Count }).ToListAsync(run.Cancellation);
        if (rows.Count == 0)
        {
            await run.Output.WriteLineAsync("No organizations yet. Create one with: App tenant create <slug> --owner <email>");
            return 0;
        }
        await run.Output.WriteLineAsync($"{"SLUG",-40} {"SCHEMA",-35} {"MEMBERS",7}  CREATED (UTC)  NAME");
        foreach (var r in rows)
        {
            await run.Output.WriteLineAsync($"{r.Slug,-40} {r.SchemaName,-35} {r.Members,7}  {r.CreatedAt.UtcDateTime:yyyy-MM-dd}     {r.Name}");
        }
        return 0;
    }

    private static async Task<int> DeleteAsync(AdminInvocation run)
    {
        var slug = run.Subject;
        if (slug is null)
        {
            return await run.UsageErrorAsync("tenant delete needs <slug>.");
        }
        if (!run.Has("--yes"))
        {
            return await run.UsageErrorAsync($"This deletes '{slug}' and all its data. Add --yes to confirm.");
        }
        if (!await run.Get<OrganizationService>().DeleteAsOperatorAsync(slug, run.Cancellation))
        {
            return await run.FailAsync($"no organization '{slug}'.");
        }
        await run.Output.WriteLineAsync($"Deleted {slug}.");
        return 0;
    }

    private static async Task<AppUser> FindOrCreateUserAsync(AdminInvocation run, string email)
    {
        await using var db = await run.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync(run.Cancellation);
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == email, run.Cancellation);
        if (user is not null)
        {
            return user;
        }
        user = AppUser.Create(email, run.Get<TimeProvider>().GetUtcNow());
        db.Users.Add(user);
        await db.SaveChangesAsync(run.Cancellation);
        return user;
    }
}
