using AgentSpace.Data;
using AgentSpace.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Chat;

/// <summary>
/// Enters the tenant for a <see cref="ChatCaller"/>: a person through <see cref="TenantOperation.RunAsync{T}(Identity.Actor, OrgRef, OrgRole, string, Func{TenantWork, CancellationToken, Task{T}}, CancellationToken)"/>
/// (role checked on every unit of work, so a demotion takes effect mid-run), the admin command as the
/// system actor with the reason "admin command".
/// </summary>
public sealed class ChatTenant(TenantOperation operations, OrganizationAccess access, IDbContextFactory<PlatformDbContext> platform)
{
    public async Task<OrgContext> ResolveAsync(ChatCaller caller, OrgRef org, OrgRole minimum, string what, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.Person is { } person)
        {
            return await access.RequireAsync(person, org, minimum, what, ct);
        }
        await using var db = await platform.CreateDbContextAsync(ct);
        var found = await db.Organizations.AsNoTracking().Where(org.Match()).FirstOrDefaultAsync(ct) ?? throw new OrgNotFoundException();
        return new OrgContext(found.Id, found.Slug, found.Name, TenantSchemaName.Parse(found.SchemaName), OrgRole.Owner);
    }

    public Task<T> RunAsync<T>(ChatCaller caller, OrgContext org, OrgRole minimum, string what,
        Func<TenantWork, CancellationToken, Task<T>> work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(org);
        return caller.Person is { } person
            ? operations.RunAsync(person, OrgRef.ById(org.Id), minimum, what, work, ct)
            : operations.RunAsSystemAsync(org.Id, ChatCaller.AdminReason, work, ct);
    }

    public Task RunAsync(ChatCaller caller, OrgContext org, OrgRole minimum, string what,
        Func<TenantWork, CancellationToken, Task> work, CancellationToken ct) =>
        RunAsync<bool>(caller, org, minimum, what, async (w, t) =>
        {
            await work(w, t);
            return true;
        }, ct);
}
