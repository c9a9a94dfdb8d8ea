using AgentSpace.Audit;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
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
        await log.AppendPlatformAsync(new AuditEntry(AuditActions.SignInRequested, AuditOutcome.Success, ActorEmail: "p@example.com"), default);
        await log.AppendPlatformAsync(new AuditEntry(AuditActions.SignInSucceeded, AuditOutcome.Success, ActorEmail: "p@example.com"), default);
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

    /// <summary>What a careful forger with superuser rights does: change a row, then re-link and re-hash every row after it.</summary>
    private static async Task RewriteFromAsync(NpgsqlConnection conn, string schema, long fromSeq, string newAction)
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
        var prev = rows[0].Prev;
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
