using System.Security.Cryptography;
using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AgentSpace.Tests.Audit;

public sealed class AuditChainTests(AppServices app) : IClassFixture<AppServices>
{
    private async Task<(Actor Owner, OrgContext Org)> OrgAsync()
    {
        var owner = await app.CreateUserAsync($"audit-{Guid.NewGuid():N}@example.com");
        var org = await app.WithAsync<OrganizationService, OrgSummary>(s => s.CreateAsync(owner, "audit-" + Guid.NewGuid().ToString("N")[..8], "Audit Org", default));
        return (owner, await app.WithAsync<OrganizationService, OrgContext>(s => s.GetAsync(owner, org.Slug, default)));
    }

    private Task AppendAsync(TenantSchemaName schema, string action) =>
        app.Get<AuditLog>().AppendAsync(schema, new AuditEntry(action, AuditOutcome.Success, Guid.NewGuid(), "someone@example.com", "target", "198.51.100.1"), default);

    [Fact]
    public async Task Verify_UntouchedChain_IsOk()
    {
        var (owner, org) = await OrgAsync();
        for (var i = 0; i < 5; i++)
        {
            await AppendAsync(org.Schema, "test.event");
        }
        var result = await app.WithAsync<AuditService, AuditVerification>(s => s.VerifyAsync(owner, org.Slug, default));
        Assert.True(result.Ok, result.Message);
        Assert.Equal(6, result.CheckedRows); // org.created + 5
    }

    [Fact]
    public async Task Verify_RowAlteredBySuperuser_NamesThatRow()
    {
        var (owner, org) = await OrgAsync();
        for (var i = 0; i < 5; i++)
        {
            await AppendAsync(org.Schema, "test.event");
        }
        // Behind the app's back, as the superuser: rewrite what row 3 says.
        var changed = await app.Database.ExecuteAsAdminAsync($"update \"{org.Schema.Value}\".audit_events set actor_email = 'innocent@example.com' where seq = 3");
        Assert.Equal(1, changed);

        var result = await app.Get<AuditLog>().VerifyAsync(org.Schema, default);
        Assert.False(result.Ok);
        Assert.Equal(3, result.BrokenSeq);
        Assert.Contains("row 3", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RowDeletedBySuperuser_NamesTheGap()
    {
        var (_, org) = await OrgAsync();
        for (var i = 0; i < 4; i++)
        {
            await AppendAsync(org.Schema, "test.event");
        }
        await app.Database.ExecuteAsAdminAsync($"delete from \"{org.Schema.Value}\".audit_events where seq = 2");
        var result = await app.Get<AuditLog>().VerifyAsync(org.Schema, default);
        Assert.False(result.Ok);
        Assert.Equal(2, result.BrokenSeq);
    }

    [Fact]
    public async Task Verify_EveryRowDeletedBySuperuser_IsBrokenNotAnEmptyOk()
    {
        var (_, org) = await OrgAsync();
        await app.Database.ExecuteAsAdminAsync($"delete from \"{org.Schema.Value}\".audit_events");
        var result = await app.Get<AuditLog>().VerifyAsync(org.Schema, default);
        Assert.False(result.Ok);
        Assert.Contains("empty", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RowRehashedWithoutRelinking_IsDetectedAtNextRow()
    {
        var (_, org) = await OrgAsync();
        for (var i = 0; i < 4; i++)
        {
            await AppendAsync(org.Schema, "test.event");
        }
        // A careful forger recomputes row 2's own hash after editing it; row 3 no longer links to it.
        var s = org.Schema.Value;
        await app.Database.ExecuteAsAdminAsync($"update \"{s}\".audit_events set action = 'forged', hash = sha256(hash) where seq = 2");
        var result = await app.Get<AuditLog>().VerifyAsync(org.Schema, default);
        Assert.False(result.Ok);
        Assert.Equal(2, result.BrokenSeq);
    }

    [Fact]
    public async Task Append_200Concurrent_ProducesOneUnbrokenChain()
    {
        var (_, org) = await OrgAsync();
        var log = app.Get<AuditLog>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            await log.AppendAsync(org.Schema, new AuditEntry("load.event", AuditOutcome.Success, Target: i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ct));

        var result = await log.VerifyAsync(org.Schema, default);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(201, result.CheckedRows);
        var distinctPrev = await app.Database.ScalarAsAdminAsync<long>($"select count(distinct prev_hash) from \"{org.Schema.Value}\".audit_events");
        Assert.Equal(201, distinctPrev); // no fork: no two rows share a predecessor
    }

    [Fact]
    public async Task Append_SecretLookingDetails_AreRedacted()
    {
        var (_, org) = await OrgAsync();
        var appended = await app.Get<AuditLog>().AppendAsync(org.Schema, new AuditEntry("test.redaction", AuditOutcome.Success,
            Details: new Dictionary<string, string?> { ["apiKey"] = "sk-live-123", ["token"] = "abc", ["note"] = "visible" }), default);
        Assert.DoesNotContain("sk-live-123", appended.Details, StringComparison.Ordinal);
        Assert.DoesNotContain("\"abc\"", appended.Details, StringComparison.Ordinal);
        Assert.Contains("visible", appended.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlatformChain_SignInEvents_VerifyAndDetectTampering()
    {
        var log = app.Get<AuditLog>();
        await log.AppendPlatformAsync(new AuditEntry(IdentityAuditActions.SignInRequested, AuditOutcome.Success, ActorEmail: "p@example.com"), default);
        await log.AppendPlatformAsync(new AuditEntry(IdentityAuditActions.SignInSucceeded, AuditOutcome.Success, ActorEmail: "p@example.com"), default);
        Assert.True((await log.VerifyPlatformAsync(default)).Ok);

        var last = await app.Database.ScalarAsAdminAsync<long>("select max(seq) from platform.audit_events");
        await app.Database.ExecuteAsAdminAsync($"update platform.audit_events set outcome = 'failure' where seq = {last}");
        var result = await log.VerifyPlatformAsync(default);
        Assert.False(result.Ok);
        Assert.Equal(last, result.BrokenSeq);
        // Repair so other tests in this class see an intact chain.
        await app.Database.ExecuteAsAdminAsync($"update platform.audit_events set outcome = 'success' where seq = {last}");
    }

    [Fact]
    public async Task Search_FilterByActionAndActor_PagesNewestFirst()
    {
        var (owner, org) = await OrgAsync();
        for (var i = 0; i < 7; i++)
        {
            await AppendAsync(org.Schema, "filter.me");
        }
        var page = await app.WithAsync<AuditService, AuditPage>(s => s.SearchAsync(owner, org.Slug, new AuditFilter(Action: "filter.me", Actor: "SOMEONE@"), 2, 5, default));
        Assert.Equal(7, page.Total);
        Assert.Equal(2, page.Items.Count);
        Assert.True(page.Items[0].Seq > page.Items[1].Seq);

        var csv = await app.WithAsync<AuditService, string>(s => s.ExportCsvAsync(owner, org.Slug, new AuditFilter(Action: "filter.me"), default));
        Assert.Equal(8, csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header + 7
        Assert.StartsWith("seq,occurred_at_utc,", csv, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_ChainRewrittenWithFreshHashes_IsCaughtOnlyAgainstARecordedHead()
    {
        var (_, org) = await OrgAsync();
        for (var i = 0; i < 4; i++)
        {
            await AppendAsync(org.Schema, "test.event");
        }
        var log = app.Get<AuditLog>();
        var recorded = (await log.VerifyAsync(org.Schema, default)).Head!;

        // A superuser who edits row 2 and recomputes every hash after it leaves a self-consistent chain...
        await using (var conn = new NpgsqlConnection(app.Database.AdminConnectionString))
        {
            await conn.OpenAsync();
            await RewriteFromAsync(conn, org.Schema.Value, 2, "forged.action");
        }
        Assert.True((await log.VerifyAsync(org.Schema, default)).Ok);
        // ...which the head recorded earlier (outside the database) exposes.
        var pinned = await log.VerifyAsync(org.Schema, default, recorded);
        Assert.False(pinned.Ok);
        Assert.Equal(recorded.Seq, pinned.BrokenSeq);
    }

    [Fact]
    public async Task Verify_NewestRowsRemoved_IsCaughtAgainstARecordedHead()
    {
        var (_, org) = await OrgAsync();
        for (var i = 0; i < 4; i++)
        {
            await AppendAsync(org.Schema, "test.event");
        }
        var log = app.Get<AuditLog>();
        var recorded = (await log.VerifyAsync(org.Schema, default)).Head!;
        await app.Database.ExecuteAsAdminAsync($"delete from \"{org.Schema.Value}\".audit_events where seq >= 4");

        Assert.True((await log.VerifyAsync(org.Schema, default)).Ok); // a shorter chain is still a valid chain
        var pinned = await log.VerifyAsync(org.Schema, default, recorded);
        Assert.False(pinned.Ok);
        Assert.Contains("removed", pinned.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_LaterAppends_StillMatchARecordedHead()
    {
        var (_, org) = await OrgAsync();
        var log = app.Get<AuditLog>();
        var recorded = (await log.VerifyAsync(org.Schema, default)).Head!;
        await AppendAsync(org.Schema, "test.event");
        Assert.True((await log.VerifyAsync(org.Schema, default, recorded)).Ok);
    }

    [Fact]
    public async Task Verify_WholeChainCopiedIntoAnotherTenant_IsBrokenAtRow1()
    {
        var (_, a) = await OrgAsync();
        var (_, b) = await OrgAsync();
        for (var i = 0; i < 3; i++)
        {
            await AppendAsync(a.Schema, "test.event");
        }
        var log = app.Get<AuditLog>();
        Assert.True((await log.VerifyAsync(a.Schema, default)).Ok);

        // As the superuser: replace B's history with A's, every row and hash intact.
        await app.Database.ExecuteAsAdminAsync(
            $"delete from \"{b.Schema.Value}\".audit_events; insert into \"{b.Schema.Value}\".audit_events select * from \"{a.Schema.Value}\".audit_events");

        var result = await log.VerifyAsync(b.Schema, default);
        Assert.False(result.Ok);
        Assert.Equal(1, result.BrokenSeq);
        Assert.True((await log.VerifyAsync(a.Schema, default)).Ok);
    }

    [Fact]
    public async Task Append_200ConcurrentWithAClockThatJumpsBackAndForth_OccurredAtNeverDecreasesAlongSeq()
    {
        var (_, org) = await OrgAsync();
        // Each reading of this clock is up to an hour off, either way: a stepped system clock, or
        // several app instances whose clocks disagree.
        var log = new AuditLog(app.Get<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>(), app.Get<TenantUnitOfWork>(), new JumpingClock(app.Clock));
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            await log.AppendAsync(org.Schema, new AuditEntry("clock.event", AuditOutcome.Success, Target: i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ct));

        var backwards = await app.Database.ScalarAsAdminAsync<long>(
            $"select count(*) from (select occurred_at < lag(occurred_at) over (order by seq) as back from \"{org.Schema.Value}\".audit_events) s where back");
        Assert.Equal(0, backwards);
        var verification = await log.VerifyAsync(org.Schema, default);
        Assert.True(verification.Ok, verification.Message);
        Assert.Equal(201, verification.CheckedRows);
    }

    [Fact]
    public async Task AppendPlatformAsync_InPlatformTransactionThatRollsBack_LeavesNeitherChangeNorAuditRow()
    {
        var log = app.Get<AuditLog>();
        var email = $"rollback-{Guid.NewGuid():N}@example.com";
        var rowsBefore = await app.Database.ScalarAsAdminAsync<long>("select count(*) from platform.audit_events");
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var factory = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
            await using var db = await factory.CreateDbContextAsync();
            await using var tx = await db.Database.BeginTransactionAsync();
            db.Users.Add(AppUser.Create(email, app.Clock.GetUtcNow()));
            await db.SaveChangesAsync();
            var appended = await log.AppendPlatformAsync(db, new AuditEntry(IdentityAuditActions.AccountSuspended, AuditOutcome.Success, ActorEmail: email), default);
            Assert.True(appended.Seq > rowsBefore);
            await tx.RollbackAsync();
        }
        Assert.Equal(rowsBefore, await app.Database.ScalarAsAdminAsync<long>("select count(*) from platform.audit_events"));
        Assert.Equal(0L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.users where email = '{email}'"));
        Assert.True((await log.VerifyPlatformAsync(default)).Ok);
    }

    [Fact]
    public async Task AppendPlatformAsync_InPlatformTransactionThatCommits_WritesBoth()
    {
        var log = app.Get<AuditLog>();
        var email = $"commit-{Guid.NewGuid():N}@example.com";
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var factory = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
            await using var db = await factory.CreateDbContextAsync();
            await using var tx = await db.Database.BeginTransactionAsync();
            db.Users.Add(AppUser.Create(email, app.Clock.GetUtcNow()));
            await db.SaveChangesAsync();
            await log.AppendPlatformAsync(db, new AuditEntry(IdentityAuditActions.AccountSuspended, AuditOutcome.Success, ActorEmail: email), default);
            await tx.CommitAsync();
        }
        Assert.Equal(1L, await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.audit_events where actor_email = '{email}'"));
        Assert.True((await log.VerifyPlatformAsync(default)).Ok);
    }

    [Fact]
    public async Task AppendPlatformAsync_WithoutATransaction_Throws()
    {
        await using var scope = app.Services.CreateAsyncScope();
        var factory = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<PlatformDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            app.Get<AuditLog>().AppendPlatformAsync(db, new AuditEntry(IdentityAuditActions.AccountSuspended, AuditOutcome.Success), default));
    }

    /// <summary>A clock whose readings scatter up to an hour either side of the test's fixed time.</summary>
    private sealed class JumpingClock(TimeProvider baseline) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() =>
            baseline.GetUtcNow().AddSeconds(RandomNumberGenerator.GetInt32(-3600, 3600));
    }

    [Fact]
    public async Task Verify_ChainWrittenBeforeTenantBinding_IsAcceptedAndSaysSo()
    {
        var (_, org) = await OrgAsync();
        await AppendAsync(org.Schema, "test.event");
        // What a chain written before the binding looks like: row 1 links to 32 zero bytes.
        await using (var conn = new NpgsqlConnection(app.Database.AdminConnectionString))
        {
            await conn.OpenAsync();
            await RewriteFromAsync(conn, org.Schema.Value, 1, AgentSpace.Tenancy.TenancyAuditActions.OrgCreated, new byte[32]);
        }
        var log = app.Get<AuditLog>();
        await AppendAsync(org.Schema, "test.event"); // new rows continue the old chain

        var result = await log.VerifyAsync(org.Schema, default);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(3, result.CheckedRows);
        Assert.Contains("before logs were bound to their organization", result.Message, StringComparison.Ordinal);
    }

    /// <summary>What a careful forger with superuser rights does: change a row, then re-link and re-hash every row after it.</summary>
    private static async Task RewriteFromAsync(NpgsqlConnection conn, string schema, long fromSeq, string newAction, byte[]? firstPrev = null)
    {
        var rows = new List<(long Seq, DateTime At, Guid? ActorId, string? Email, string Action, string? Target, string Outcome, string? Ip, string Details, byte[] Prev)>();
        await using (var read = new NpgsqlCommand($"select seq, occurred_at, actor_id, actor_email, action, target, outcome, ip, details::text, prev_hash from \"{schema}\".audit_events where seq >= {fromSeq} order by seq", conn))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetInt64(0), DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc), reader.IsDBNull(2) ? null : reader.GetGuid(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetString(8), (byte[])reader.GetValue(9)));
            }
        }
        var prev = firstPrev ?? rows[0].Prev;
        foreach (var r in rows)
        {
            var action = r.Seq == fromSeq ? newAction : r.Action;
            var hash = AuditChain.ComputeHash(prev, r.Seq, r.At, r.ActorId, r.Email, action, r.Target, r.Outcome, r.Ip, r.Details);
            await using var update = new NpgsqlCommand($"update \"{schema}\".audit_events set action = @a, prev_hash = @p, hash = @h where seq = @s", conn);
            update.Parameters.AddWithValue("a", action);
            update.Parameters.AddWithValue("p", prev);
            update.Parameters.AddWithValue("h", hash);
            update.Parameters.AddWithValue("s", r.Seq);
            await update.ExecuteNonQueryAsync();
            prev = hash;
        }
    }

    [Fact]
    public void Csv_FormulaLikeValue_IsDefused()
    {
        Assert.Equal("\"'=HYPERLINK(\"\"x\"\")\"", AuditService.Csv("=HYPERLINK(\"x\")"));
    }
}
