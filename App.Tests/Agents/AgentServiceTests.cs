using System.Text.Json;
using AgentSpace.Agents;
using AgentSpace.Audit;
using AgentSpace.Chat;
using AgentSpace.Identity;
using AgentSpace.Providers;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Agents;

/// <summary>
/// Agent management as Admins, Members, Viewers and other organizations see it: what each can do, which
/// field is refused and why, and the audit row every change leaves.
/// </summary>
public sealed class AgentServiceTests(AppServices app) : IClassFixture<AppServices>
{
    private static AgentInput Valid(string name) => new()
    {
        Name = name,
        Colour = "#3F51B5",
        Description = "Answers questions about the handbook.",
        Instructions = "Be brief.",
        Temperature = 0.5,
        Tools = [AgentTools.Memory],
        DailyMessageLimit = 100,
        RunCostCapUsd = 0.5m,
        MonthlyBudgetUsd = 20m,
    };

    private Task<AgentView> CreateAsync(Actor actor, string slug, AgentInput input) =>
        app.WithAsync<AgentService, AgentView>(s => s.CreateAsync(actor, slug, input, default));

    private async Task<AgentValidationException> RefusedAsync(Actor actor, string slug, AgentInput input) =>
        await Assert.ThrowsAsync<AgentValidationException>(() => CreateAsync(actor, slug, input));

    private static Dictionary<string, string?> DetailsOf(AuditEvent e) =>
        JsonSerializer.Deserialize<Dictionary<string, string?>>(e.Details)!;

    /// <summary>A provider with <paramref name="models"/>, as Settings → Models would store it.</summary>
    private Task<Guid> AddProviderAsync(OrgSummary org, string name, params string[] models) =>
        app.WithAsync<TenantOperation, Guid>(ops => ops.RunAsSystemAsync(org.Id, "test setup", async (work, ct) =>
        {
            var provider = new ModelProvider
            {
                Id = Guid.NewGuid(),
                Name = name,
                Kind = ModelProviderKind.OpenAICompatible,
                BaseUrl = "http://127.0.0.1:9/v1",
                CreatedAt = app.Clock.GetUtcNow(),
                UpdatedAt = app.Clock.GetUtcNow(),
            };
            provider.Models.AddRange(models.Select(m => new ProviderModel { ProviderId = provider.Id, ModelId = m }));
            work.Db.ModelProviders.Add(provider);
            await work.Db.SaveChangesAsync(ct);
            return provider.Id;
        }, default));

    private Task<Guid> AddMemoryAsync(OrgSummary org, Guid agentId, string fact) =>
        app.WithAsync<TenantOperation, Guid>(ops => ops.RunAsSystemAsync(org.Id, "test setup", async (work, ct) =>
        {
            var memory = new AgentMemory { Id = Guid.NewGuid(), AgentId = agentId, Fact = fact, CreatedAt = app.Clock.GetUtcNow() };
            work.Db.AgentMemories.Add(memory);
            await work.Db.SaveChangesAsync(ct);
            return memory.Id;
        }, default));

    [Fact]
    public async Task Create_AsAdmin_ListsTheAgentAsOfflineAndAuditsIt()
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);

        var created = await CreateAsync(admin, org.Slug, Valid("Handbook helper"));

        Assert.Equal("#3f51b5", created.Colour);
        var list = await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(admin, org.Slug, default));
        var row = Assert.Single(list.Agents);
        Assert.Equal(("Handbook helper", "Offline", false), (row.Name, row.ModelLabel, row.Paused));
        var audit = Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == AgentsAuditActions.Created);
        Assert.Equal(created.Id.ToString(), audit.Target);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal("Handbook helper", DetailsOf(audit)["name"]);
    }

    [Fact]
    public async Task Create_WithAProviderAndAModelItOffers_ShowsProviderAndModel()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        var provider = await AddProviderAsync(org, "Groq", "llama-3.1-8b", "llama-3.3-70b");

        var created = await CreateAsync(owner, org.Slug, Valid("Fast") with { ProviderId = provider, Model = "llama-3.3-70b" });

        Assert.Equal("Groq · llama-3.3-70b", created.ModelLabel);
        var choices = await app.WithAsync<AgentService, ModelChoices>(s => s.ListModelChoicesAsync(owner, org.Slug, default));
        Assert.Equal([AgentService.OfflineChoiceLabel, "Groq"], choices.Providers.Select(p => p.Label));
        Assert.Null(choices.Providers[0].ProviderId);
        Assert.Equal(["llama-3.1-8b", "llama-3.3-70b"], choices.Providers[1].Models);
    }

    [Fact]
    public async Task Update_AsAdmin_ChangesFieldsAndAuditsWhichOnesWithoutTheInstructionsText()
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        var created = await CreateAsync(admin, org.Slug, Valid("Drafts"));
        const string instructions = "Write in the house style. CONFIDENTIAL-PLAYBOOK-TEXT";

        var updated = await app.WithAsync<AgentService, AgentView>(s => s.UpdateAsync(admin, org.Slug, created.Id,
            created.ToInput() with { Name = "Drafts v2", Instructions = instructions, Tools = [AgentTools.Memory, AgentTools.CurrentTime] }, default));

        Assert.Equal(("Drafts v2", instructions), (updated.Name, updated.Instructions));
        Assert.Equal([AgentTools.Memory, AgentTools.CurrentTime], updated.Tools);
        var audit = Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == AgentsAuditActions.Updated);
        var details = DetailsOf(audit);
        Assert.Equal("name,instructions,tools", details["changed"]);
        Assert.Equal("Drafts", details["previous_name"]);
        Assert.DoesNotContain("CONFIDENTIAL-PLAYBOOK-TEXT", audit.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Duplicate_Twice_GivesUniqueCopyNamesAndAuditsTheSource()
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        var source = await CreateAsync(admin, org.Slug, Valid("Researcher"));
        await AddMemoryAsync(org, source.Id, "The fiscal year starts in April.");

        var first = await app.WithAsync<AgentService, AgentView>(s => s.DuplicateAsync(admin, org.Slug, source.Id, default));
        var second = await app.WithAsync<AgentService, AgentView>(s => s.DuplicateAsync(admin, org.Slug, source.Id, default));

        Assert.Equal("Copy of Researcher", first.Name);
        Assert.Equal("Copy of Researcher (2)", second.Name);
        Assert.Equal(source.Instructions, first.Instructions);
        Assert.Equal(source.Tools, first.Tools);
        Assert.Empty(await app.WithAsync<AgentService, IReadOnlyList<MemoryRow>>(s => s.ListMemoriesAsync(admin, org.Slug, first.Id, default)));
        var audits = (await app.AuditLogAsync(owner, org.Slug)).Where(e => e.Action == AgentsAuditActions.Duplicated).ToList();
        Assert.Equal(2, audits.Count);
        Assert.All(audits, a => Assert.Equal(source.Id.ToString(), DetailsOf(a)["source_id"]));
    }

    [Fact]
    public async Task PauseThenResume_AsAdmin_ShowsTheReasonWhilePausedAndAuditsBoth()
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        var agent = await CreateAsync(admin, org.Slug, Valid("Pausable"));

        await app.WithAsync<AgentService>(s => s.PauseAsync(admin, org.Slug, agent.Id, "  Budget review  ", default));
        var paused = Assert.Single((await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(admin, org.Slug, default))).Agents);
        Assert.True(paused.Paused);
        Assert.Equal("Budget review", paused.PausedReason);
        await Assert.ThrowsAsync<OrgRuleException>(() => app.WithAsync<AgentService>(s => s.PauseAsync(admin, org.Slug, agent.Id, null, default)));

        await app.WithAsync<AgentService>(s => s.ResumeAsync(admin, org.Slug, agent.Id, default));
        var resumed = Assert.Single((await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(admin, org.Slug, default))).Agents);
        Assert.False(resumed.Paused);
        Assert.Null(resumed.PausedReason);

        var log = await app.AuditLogAsync(owner, org.Slug);
        Assert.Equal("Budget review", DetailsOf(Assert.Single(log, e => e.Action == AgentsAuditActions.Paused))["reason"]);
        Assert.Single(log, e => e.Action == AgentsAuditActions.Resumed);
    }

    [Fact]
    public async Task Delete_AsAdmin_RemovesTheAgentWithItsConversationsAndMemoriesAndAuditsIt()
    {
        var (owner, org, admin) = await app.OrgWithMemberAsync(OrgRole.Admin);
        var agent = await CreateAsync(admin, org.Slug, Valid("Short-lived"));
        await AddMemoryAsync(org, agent.Id, "Remember me.");
        await app.WithAsync<TenantOperation>(ops => ops.RunAsSystemAsync(org.Id, "test setup", async (work, ct) =>
        {
            work.Db.Conversations.Add(new Conversation { Id = Guid.NewGuid(), AgentId = agent.Id, UserId = admin.UserId, Title = "Hello", CreatedAt = app.Clock.GetUtcNow(), UpdatedAt = app.Clock.GetUtcNow() });
            await work.Db.SaveChangesAsync(ct);
        }, default));

        await app.WithAsync<AgentService>(s => s.DeleteAsync(admin, org.Slug, agent.Id, default));

        Assert.Empty((await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(admin, org.Slug, default))).Agents);
        var (conversations, memories) = await app.WithAsync<TenantOperation, (int, int)>(ops => ops.RunAsSystemAsync(org.Id, "test check", async (work, ct) =>
            (await work.Db.Conversations.CountAsync(ct), await work.Db.AgentMemories.CountAsync(ct)), default));
        Assert.Equal((0, 0), (conversations, memories));
        var details = DetailsOf(Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == AgentsAuditActions.Deleted));
        Assert.Equal(("Short-lived", "1", "1"), (details["name"], details["conversations"], details["memories"]));
    }

    [Fact]
    public async Task Create_NameTakenInAnyCase_IsAFieldErrorOnName()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        await CreateAsync(owner, org.Slug, Valid("Support"));

        var refused = await RefusedAsync(owner, org.Slug, Valid(" support "));

        Assert.Equal([nameof(AgentInput.Name)], refused.Errors.Keys);
        Assert.Equal(400, refused.StatusCode);
    }

    [Fact]
    public async Task Update_ToAnotherAgentsName_IsAFieldErrorOnName()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        await CreateAsync(owner, org.Slug, Valid("First"));
        var second = await CreateAsync(owner, org.Slug, Valid("Second"));

        var refused = await Assert.ThrowsAsync<AgentValidationException>(() =>
            app.WithAsync<AgentService, AgentView>(s => s.UpdateAsync(owner, org.Slug, second.Id, second.ToInput() with { Name = "First" }, default)));

        Assert.Equal([nameof(AgentInput.Name)], refused.Errors.Keys);
    }

    [Theory]
    [InlineData(nameof(AgentInput.Name), "")]
    [InlineData(nameof(AgentInput.Colour), "red")]
    [InlineData(nameof(AgentInput.Colour), "#12345")]
    [InlineData(nameof(AgentInput.Temperature), "2.5")]
    [InlineData(nameof(AgentInput.Instructions), "long")]
    [InlineData(nameof(AgentInput.DailyMessageLimit), "-1")]
    [InlineData(nameof(AgentInput.RunCostCapUsd), "-0.01")]
    [InlineData(nameof(AgentInput.MonthlyBudgetUsd), "10000000")]
    [InlineData(nameof(AgentInput.Tools), "shell")]
    public async Task Create_WithABadField_IsRefusedWithAnErrorOnThatFieldOnly(string field, string value)
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        var input = field switch
        {
            nameof(AgentInput.Name) => Valid(value),
            nameof(AgentInput.Colour) => Valid("A") with { Colour = value },
            nameof(AgentInput.Temperature) => Valid("A") with { Temperature = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            nameof(AgentInput.Instructions) => Valid("A") with { Instructions = new string('x', AgentValidation.MaxInstructionsLength + 1) },
            nameof(AgentInput.DailyMessageLimit) => Valid("A") with { DailyMessageLimit = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            nameof(AgentInput.RunCostCapUsd) => Valid("A") with { RunCostCapUsd = decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            nameof(AgentInput.MonthlyBudgetUsd) => Valid("A") with { MonthlyBudgetUsd = decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            _ => Valid("A") with { Tools = [value] },
        };

        var refused = await RefusedAsync(owner, org.Slug, input);

        Assert.Equal([field], refused.Errors.Keys);
        Assert.Empty((await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(owner, org.Slug, default))).Agents);
    }

    [Fact]
    public async Task Create_WithAnUnknownTool_IsAFieldErrorOnTools()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);

        var refused = await RefusedAsync(owner, org.Slug, Valid("Librarian") with { Tools = [AgentTools.Memory, "shell_exec"] });

        Assert.Equal("Choose tools from the list.", refused.Errors[nameof(AgentInput.Tools)]);
    }

    [Fact]
    public async Task Create_WithAnotherOrganizationsProvider_IsAFieldErrorOnProvider()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        var otherOwner = await app.NewUserAsync("other");
        var other = await app.CreateOrgAsync(otherOwner);
        var theirs = await AddProviderAsync(other, "Their OpenAI", "gpt-4o");

        var refused = await RefusedAsync(owner, org.Slug, Valid("Borrower") with { ProviderId = theirs, Model = "gpt-4o" });

        Assert.Equal([nameof(AgentInput.ProviderId)], refused.Errors.Keys);
    }

    [Fact]
    public async Task Create_WithAModelTheProviderDoesNotOffer_IsAFieldErrorOnModel()
    {
        var owner = await app.NewUserAsync("owner");
        var org = await app.CreateOrgAsync(owner);
        var provider = await AddProviderAsync(org, "Local", "qwen2.5");

        var refused = await RefusedAsync(owner, org.Slug, Valid("Wishful") with { ProviderId = provider, Model = "gpt-5" });

        Assert.Equal([nameof(AgentInput.Model)], refused.Errors.Keys);
    }

    [Fact]
    public async Task Create_AsViewer_IsForbiddenAndTheAttemptAudited()
    {
        var (owner, org, viewer) = await app.OrgWithMemberAsync(OrgRole.Viewer);

        await Assert.ThrowsAsync<OrgForbiddenException>(() => CreateAsync(viewer, org.Slug, Valid("Sneaky")));

        Assert.Empty((await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(owner, org.Slug, default))).Agents);
        Assert.Contains(await app.AuditLogAsync(owner, org.Slug), e => e.Action == TenancyAuditActions.AccessDenied && e.Target == "agents.create" && e.ActorId == viewer.UserId);
    }

    [Fact]
    public async Task Manage_AsMember_IsForbiddenForEveryChange()
    {
        var (owner, org, member) = await app.OrgWithMemberAsync(OrgRole.Member);
        var agent = await CreateAsync(owner, org.Slug, Valid("Owned"));
        var memory = await AddMemoryAsync(org, agent.Id, "A fact.");

        await Assert.ThrowsAsync<OrgForbiddenException>(() => CreateAsync(member, org.Slug, Valid("Mine")));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.UpdateAsync(member, org.Slug, agent.Id, Valid("Renamed"), default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.DuplicateAsync(member, org.Slug, agent.Id, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.PauseAsync(member, org.Slug, agent.Id, null, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.ResumeAsync(member, org.Slug, agent.Id, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.DeleteAsync(member, org.Slug, agent.Id, default)));
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.DeleteMemoryAsync(member, org.Slug, agent.Id, memory, default)));

        var after = await app.WithAsync<AgentService, AgentDetails>(s => s.GetAsync(member, org.Slug, agent.Id, default));
        Assert.Equal(("Owned", false), (after.Agent.Name, after.Agent.Paused));
        Assert.Equal(["A fact."], after.Memories!.Select(m => m.Fact));
    }

    [Fact]
    public async Task ListAndGet_AsViewer_ShowAgentsButNotMemories()
    {
        var (owner, org, viewer) = await app.OrgWithMemberAsync(OrgRole.Viewer);
        var agent = await CreateAsync(owner, org.Slug, Valid("Readable"));
        await AddMemoryAsync(org, agent.Id, "Members-only fact.");

        var list = await app.WithAsync<AgentService, AgentList>(s => s.ListAsync(viewer, org.Slug, default));
        var details = await app.WithAsync<AgentService, AgentDetails>(s => s.GetAsync(viewer, org.Slug, agent.Id, default));

        Assert.Equal(["Readable"], list.Agents.Select(a => a.Name));
        Assert.Equal("Be brief.", details.Agent.Instructions);
        Assert.Null(details.Memories);
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.ListMemoriesAsync(viewer, org.Slug, agent.Id, default)));
    }

    [Fact]
    public async Task AnotherOrganizationsAgentId_IsNotFoundForReadUpdateDeleteAndLeftUntouched()
    {
        var victimOwner = await app.NewUserAsync("victim");
        var victimOrg = await app.CreateOrgAsync(victimOwner);
        var victim = await CreateAsync(victimOwner, victimOrg.Slug, Valid("Victim agent"));
        var memory = await AddMemoryAsync(victimOrg, victim.Id, "Secret plan.");
        var attacker = await app.NewUserAsync("attacker");
        var attackerOrg = await app.CreateOrgAsync(attacker);

        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.GetAsync(attacker, attackerOrg.Slug, victim.Id, default)));
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.UpdateAsync(attacker, attackerOrg.Slug, victim.Id, Valid("Hijacked"), default)));
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.DuplicateAsync(attacker, attackerOrg.Slug, victim.Id, default)));
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.PauseAsync(attacker, attackerOrg.Slug, victim.Id, null, default)));
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.DeleteAsync(attacker, attackerOrg.Slug, victim.Id, default)));
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.ListMemoriesAsync(attacker, attackerOrg.Slug, victim.Id, default)));
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.DeleteMemoryAsync(attacker, attackerOrg.Slug, victim.Id, memory, default)));
        // Naming the victim's organization instead: the attacker is not a member, so it does not exist for them.
        await Assert.ThrowsAsync<OrgNotFoundException>(() => app.WithAsync<AgentService>(s => s.DeleteAsync(attacker, victimOrg.Slug, victim.Id, default)));

        var after = await app.WithAsync<AgentService, AgentDetails>(s => s.GetAsync(victimOwner, victimOrg.Slug, victim.Id, default));
        Assert.Equal(("Victim agent", false), (after.Agent.Name, after.Agent.Paused));
        Assert.Equal(["Secret plan."], after.Memories!.Select(m => m.Fact));
    }

    [Fact]
    public async Task Memories_ListedForMembersNewestFirst_DeletedByAdminWithAnAuditRowWithoutTheFact()
    {
        var (owner, org, member) = await app.OrgWithMemberAsync(OrgRole.Member);
        var agent = await CreateAsync(owner, org.Slug, Valid("Rememberer"));
        await AddMemoryAsync(org, agent.Id, "Older fact.");
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        var newer = await AddMemoryAsync(org, agent.Id, "The customer's phone number is 555-0100.");

        var listed = await app.WithAsync<AgentService, IReadOnlyList<MemoryRow>>(s => s.ListMemoriesAsync(member, org.Slug, agent.Id, default));
        Assert.Equal(["The customer's phone number is 555-0100.", "Older fact."], listed.Select(m => m.Fact));

        await app.WithAsync<AgentService>(s => s.DeleteMemoryAsync(owner, org.Slug, agent.Id, newer, default));

        var after = await app.WithAsync<AgentService, IReadOnlyList<MemoryRow>>(s => s.ListMemoriesAsync(member, org.Slug, agent.Id, default));
        Assert.Equal(["Older fact."], after.Select(m => m.Fact));
        var audit = Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == AgentsAuditActions.MemoryDeleted);
        Assert.Equal(newer.ToString(), audit.Target);
        Assert.Equal(agent.Id.ToString(), DetailsOf(audit)["agent_id"]);
        Assert.DoesNotContain("555-0100", audit.Details, StringComparison.Ordinal);
        await Assert.ThrowsAsync<AgentMemoryNotFoundException>(() => app.WithAsync<AgentService>(s => s.DeleteMemoryAsync(owner, org.Slug, agent.Id, newer, default)));
    }

    [Fact]
    public async Task AddMemory_ByAdmin_IsListedAndAuditedWithoutTheFact_MembersAndBadInputRefused()
    {
        var (owner, org, member) = await app.OrgWithMemberAsync(OrgRole.Member);
        var agent = await CreateAsync(owner, org.Slug, Valid("Noted"));

        await app.WithAsync<AgentService>(s => s.AddMemoryAsync(owner, org.Slug, agent.Id, "  Invoices are due in 30 days.  ", default));

        var listed = await app.WithAsync<AgentService, IReadOnlyList<MemoryRow>>(s => s.ListMemoriesAsync(member, org.Slug, agent.Id, default));
        Assert.Equal(["Invoices are due in 30 days."], listed.Select(m => m.Fact));
        var audit = Assert.Single(await app.AuditLogAsync(owner, org.Slug), e => e.Action == AgentsAuditActions.MemoryAdded);
        Assert.DoesNotContain("Invoices", audit.Details, StringComparison.Ordinal);
        await Assert.ThrowsAsync<OrgForbiddenException>(() => app.WithAsync<AgentService>(s => s.AddMemoryAsync(member, org.Slug, agent.Id, "Member fact.", default)));
        var empty = await Assert.ThrowsAsync<AgentValidationException>(() => app.WithAsync<AgentService>(s => s.AddMemoryAsync(owner, org.Slug, agent.Id, "   ", default)));
        Assert.True(empty.Errors.ContainsKey("Fact"));
        await Assert.ThrowsAsync<AgentValidationException>(() => app.WithAsync<AgentService>(s => s.AddMemoryAsync(owner, org.Slug, agent.Id, new string('x', 2001), default)));
        var otherOwner = await app.NewUserAsync("other");
        var otherOrg = await app.CreateOrgAsync(otherOwner);
        await Assert.ThrowsAsync<AgentNotFoundException>(() => app.WithAsync<AgentService>(s => s.AddMemoryAsync(otherOwner, otherOrg.Slug, agent.Id, "Planted.", default)));
        Assert.Single(await app.WithAsync<AgentService, IReadOnlyList<MemoryRow>>(s => s.ListMemoriesAsync(member, org.Slug, agent.Id, default)));
    }
}
