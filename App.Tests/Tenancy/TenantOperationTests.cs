using AgentSpace.Audit;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Tenancy;

/// <summary>The one tenant operation: a change and its audit row commit together or not at all; background work is recorded as the system.</summary>
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

    [Fact]
    public async Task RunAsSystem_RecordsTheSystemActorWithItsReason()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);

        var seen = await app.WithAsync<TenantOperation, string>(ops => ops.RunAsSystemAsync(org.Id, "nightly cleanup", (work, ct) =>
        {
            work.Audit("test.housekeeping", "documents", new Dictionary<string, string?> { ["removed"] = "3" });
            return Task.FromResult(work.Org.Slug);
        }, default));

        Assert.Equal(org.Slug, seen);
        var row = Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == "test.housekeeping");
        Assert.Equal(AuditEntry.SystemActor, row.ActorEmail);
        Assert.Null(row.ActorId);
        Assert.Null(row.Ip);
        Assert.Equal("""{"reason":"nightly cleanup","removed":"3"}""", row.Details);
    }

    [Fact]
    public async Task RunAsSystem_UnknownOrganization_IsNotFound() =>
        await Assert.ThrowsAsync<OrgNotFoundException>(() =>
            app.WithAsync<TenantOperation>(ops => ops.RunAsSystemAsync(Guid.NewGuid(), "test", (_, _) => Task.CompletedTask, default)));

    [Fact]
    public async Task Run_WhenTheWorkFails_ItsAuditRowIsNotWritten()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);

        await Assert.ThrowsAsync<InvalidOperationException>(() => app.WithAsync<TenantOperation>(ops => ops.RunAsync(owner, org.Slug, OrgRole.Viewer, "test.fail", (work, ct) =>
        {
            work.Audit("test.never");
            throw new InvalidOperationException("boom");
        }, default)));

        Assert.DoesNotContain(await app.AuditLogAsync(owner, org.Slug), e => e.Action == "test.never");
    }

    [Fact]
    public async Task Run_ByIdOrSlug_ChecksTheRoleAndRecordsTheMember()
    {
        var (owner, org, viewer) = await app.OrgWithMemberAsync(OrgRole.Viewer);

        await Assert.ThrowsAsync<OrgForbiddenException>(() =>
            app.WithAsync<TenantOperation>(ops => ops.RunAsync(viewer, org.Id, OrgRole.Admin, "test.admin_only", (_, _) => Task.CompletedTask, default)));
        await app.WithAsync<TenantOperation>(ops => ops.RunAsync(viewer, org.Id, OrgRole.Viewer, "test.read", (work, ct) =>
        {
            work.Audit("test.viewed", "thing");
            return Task.CompletedTask;
        }, default));

        var row = Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == "test.viewed");
        Assert.Equal(viewer.UserId, row.ActorId);
        Assert.Equal(viewer.Email, row.ActorEmail);
        Assert.Equal(viewer.Ip, row.Ip);
    }

    [Fact]
    public async Task Create_TwoAtOnceWithOneAddress_OneOrganizationAndOneSchema()
    {
        var first = await app.NewUserAsync("first");
        var second = await app.NewUserAsync("second");
        var slug = "race-" + Guid.NewGuid().ToString("N")[..8];
        var schemas = await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_namespace where nspname like 't\\_%'");

        var results = await Task.WhenAll(
            Task.Run(() => CreateOrRefusalAsync(first, slug)),
            Task.Run(() => CreateOrRefusalAsync(second, slug)));

        Assert.Single(results, r => r is null);
        Assert.Contains("taken", Assert.Single(results, r => r is not null)!.Message, StringComparison.Ordinal);
        Assert.Equal(schemas + 1, await app.Database.ScalarAsAdminAsync<long>("select count(*) from pg_namespace where nspname like 't\\_%'"));
        var winner = results[0] is null ? first : second;
        Assert.Contains(await app.AuditLogAsync(winner, slug), e => e.Action == TenancyAuditActions.OrgCreated && e.ActorId == winner.UserId);
    }

    private async Task<OrgRuleException?> CreateOrRefusalAsync(Actor owner, string slug)
    {
        try
        {
            await app.CreateOrgAsync(owner, slug);
            return null;
        }
        catch (OrgRuleException ex)
        {
            return ex;
        }
    }
}
