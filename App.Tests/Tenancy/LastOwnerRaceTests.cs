using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Npgsql;

namespace AgentSpace.Tests.Tenancy;

/// <summary>
/// Two Owners act against each other at the same moment. Whatever the interleaving, the organization
/// keeps an Owner, and the call that lost the race is refused with a message that says why.
/// </summary>
public sealed class LastOwnerRaceTests(AppServices app) : IClassFixture<AppServices>
{
    public enum Clash
    {
        /// <summary>A removes B while B removes A.</summary>
        RemoveEachOther,
        /// <summary>A demotes B to Member while B removes A.</summary>
        DemoteAndRemove,
    }

    [Theory]
    [InlineData(Clash.RemoveEachOther)]
    [InlineData(Clash.DemoteAndRemove)]
    public async Task TwoOwners_ActAgainstEachOtherAtOnce_AnOwnerRemainsAndTheLoserIsTold(Clash clash)
    {
        for (var round = 0; round < 4; round++)
        {
            var a = await app.NewUserAsync("owner-a");
            var org = await app.CreateOrgAsync(a);
            var b = await app.AddMemberAsync(org, OrgRole.Owner, "owner-b");

            // Both calls start together. The test holds the organization's rows meanwhile, so both get past
            // their first look at the caller's role and then queue for the lock: the worst interleaving, every round.
            Task<Exception?> first, second;
            await using (var hold = await RowHold.TakeAsync(app.Database.AdminConnectionString, org.Id))
            {
                using var start = new SemaphoreSlim(0, 2);
                first = OutcomeAsync(start, () => clash == Clash.RemoveEachOther
                    ? app.WithAsync<MemberService>(s => s.RemoveAsync(a, org.Slug, b.UserId, default))
                    : app.WithAsync<MemberService>(s => s.ChangeRoleAsync(a, org.Slug, b.UserId, OrgRole.Member, default)));
                second = OutcomeAsync(start, () => app.WithAsync<MemberService>(s => s.RemoveAsync(b, org.Slug, a.UserId, default)));
                start.Release(2);
                await hold.WaitForWaitersAsync(2, TimeSpan.FromSeconds(10));
            }
            var outcomes = await Task.WhenAll(first, second);

            var owners = await app.Database.ScalarAsAdminAsync<long>(
                $"select count(*) from platform.memberships where organization_id = '{org.Id}' and role = 'Owner'");
            Assert.True(owners >= 1, $"round {round}: the organization was left without an Owner");
            Assert.Single(outcomes, o => o is null);
            var refused = Assert.IsType<OrgRuleException>(Assert.Single(outcomes, o => o is not null));
            Assert.Matches("no longer a member|Your role here is now Member", refused.Message);
        }
    }

    private static async Task<Exception?> OutcomeAsync(SemaphoreSlim start, Func<Task> call)
    {
        await start.WaitAsync();
        try
        {
            await Task.Run(call);
            return null;
        }
        catch (Exception ex) when (ex is OrgRuleException or OrgNotFoundException or OrgForbiddenException)
        {
            return ex;
        }
    }

    /// <summary>Holds an organization's platform rows from a separate (superuser) connection until disposed.</summary>
    private sealed class RowHold : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlTransaction _transaction;

        private RowHold(NpgsqlConnection connection, NpgsqlTransaction transaction)
        {
            _connection = connection;
            _transaction = transaction;
        }

        public static async Task<RowHold> TakeAsync(string adminConnection, Guid orgId)
        {
            var connection = new NpgsqlConnection(adminConnection);
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            await using var cmd = new NpgsqlCommand(
                "select 1 from platform.organizations where id = @id for update; select 1 from platform.memberships where organization_id = @id for update",
                connection, transaction);
            cmd.Parameters.AddWithValue("id", orgId);
            await cmd.ExecuteNonQueryAsync();
            return new RowHold(connection, transaction);
        }

        /// <summary>Waits until <paramref name="count"/> other sessions are blocked on a lock in this database.</summary>
        public async Task WaitForWaitersAsync(int count, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < until)
            {
                await using var cmd = new NpgsqlCommand(
                    "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
                    _connection, _transaction);
                if ((long)(await cmd.ExecuteScalarAsync())! >= count)
                {
                    return;
                }
                await Task.Delay(20);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _transaction.CommitAsync();
            await _transaction.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }
}
