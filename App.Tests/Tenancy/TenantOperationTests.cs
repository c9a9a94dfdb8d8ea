using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Tenancy;

/// <summary>The one tenant operation: a change and its audit row commit together or not at all.</summary>
public sealed class TenantOperationTests(AppServices app) : IClassFixture<AppServices>
{
    [Fact]
    public async Task Rename_WhenItsAuditRowCannotBeWritten_DoesNotHappen()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        var schema = (await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default))).Schema.Value;
        // Break the tenant's audit log for writes (as a full disk or a broken grant would).
        await app.Database.ExecuteAsAdminAsync($"revoke insert on {schema}.audit_events from {schema}");

        await Assert.ThrowsAnyAsync<Exception>(() => app.WithAsync<OrganizationService>(s => s.RenameAsync(owner, org.Slug, "Unrecorded", default)));

        await app.Database.ExecuteAsAdminAsync($"grant insert on {schema}.audit_events to {schema}");
        var after = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default));
        Assert.NotEqual("Unrecorded", after.Name);
    }

    [Fact]
    public async Task ChangeRole_WhenItsAuditRowCannotBeWritten_DoesNotHappen()
    {
        var (owner, org, member) = await app.OrgWithMemberAsync(OrgRole.Member);
        var schema = (await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default))).Schema.Value;
        await app.Database.ExecuteAsAdminAsync($"revoke insert on {schema}.audit_events from {schema}");

        await Assert.ThrowsAnyAsync<Exception>(() => app.WithAsync<MemberService>(s => s.ChangeRoleAsync(owner, org.Slug, member.UserId, OrgRole.Admin, default)));

        await app.Database.ExecuteAsAdminAsync($"grant insert on {schema}.audit_events to {schema}");
        var me = await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(member, org.Slug, default));
        Assert.Equal(OrgRole.Member, me.Role);
    }
}
