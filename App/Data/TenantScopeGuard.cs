using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace AgentSpace.Data;

/// <summary>
/// Puts the tenant scope on the wire and fails closed.
/// <list type="bullet">
/// <item>A <see cref="TenantDbContext"/> command with no tenant scope, or outside the unit of work's
/// transaction, throws instead of running.</item>
/// <item>The first command of a unit of work carries <c>SET LOCAL ROLE t_x; SET LOCAL search_path = t_x,
/// extensions;</c> in front of its own SQL. Npgsql sends the statements of one command (and the deferred
/// BEGIN) in one round trip, so the scope costs none of its own. SET returns no result set and no row
/// count, so readers, scalars and rows-affected counts are those of the command's own statements.</item>
/// </list>
/// Two kinds of first command get the scope in a round trip of its own instead: SaveChanges batches
/// (EF matches each statement's row count by its position in the batch, which a prefix would shift) and
/// commands with positional (<c>$1</c>) parameters (PostgreSQL takes one statement per command then).
/// </summary>
internal sealed class TenantScopeGuard : DbCommandInterceptor
{
    /// <summary>It keeps no state of its own (the unit's state lives on its context): one instance serves all.</summary>
    public static TenantScopeGuard Instance { get; } = new();

    private TenantScopeGuard()
    {
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        AddScope(command, eventData);
        return result;
    }

    public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        await AddScopeAsync(command, eventData, cancellationToken);
        return result;
    }

    public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
    {
        Sent(command, eventData);
        return result;
    }

    public override ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        Sent(command, eventData);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        AddScope(command, eventData);
        return result;
    }

    public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        await AddScopeAsync(command, eventData, cancellationToken);
        return result;
    }

    public override int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        Sent(command, eventData);
        return result;
    }

    public override ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Sent(command, eventData);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        AddScope(command, eventData);
        return result;
    }

    public override async ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        await AddScopeAsync(command, eventData, cancellationToken);
        return result;
    }

    public override object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        Sent(command, eventData);
        return result;
    }

    public override ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Sent(command, eventData);
        return ValueTask.FromResult(result);
    }

    private static void AddScope(DbCommand command, CommandEventData eventData)
    {
        if (Pending(eventData) is not { } pending)
        {
            return;
        }
        if (NeedsOwnRoundTrip(command, eventData))
        {
            using var set = ScopeCommand(command, pending.Statements);
            set.ExecuteNonQuery();
            pending.Db.ScopeSent();
            return;
        }
        Prefix(command, pending.Statements);
    }

    private static async ValueTask AddScopeAsync(DbCommand command, CommandEventData eventData, CancellationToken ct)
    {
        if (Pending(eventData) is not { } pending)
        {
            return;
        }
        if (NeedsOwnRoundTrip(command, eventData))
        {
            await using var set = ScopeCommand(command, pending.Statements);
            await set.ExecuteNonQueryAsync(ct);
            pending.Db.ScopeSent();
            return;
        }
        Prefix(command, pending.Statements);
    }

    /// <summary>The scope statements still owed by this command's unit of work; null for other contexts or once sent.</summary>
    private static (TenantDbContext Db, string Statements)? Pending(CommandEventData eventData)
    {
        if (eventData.Context is not TenantDbContext db)
        {
            return null;
        }
        // Throws TenantNotSetException with no tenant or no transaction.
        var statements = db.PendingScopeStatements();
        return statements.Length == 0 ? null : (db, statements);
    }

    private static bool NeedsOwnRoundTrip(DbCommand command, CommandEventData eventData) =>
        eventData.CommandSource == CommandSource.SaveChanges
        || command.Parameters.Cast<DbParameter>().Any(p => string.IsNullOrEmpty(p.ParameterName));

#pragma warning disable CA2100 // fixed statements built from a validated schema name, in front of EF's own SQL
    private static void Prefix(DbCommand command, string statements) => command.CommandText = statements + command.CommandText;

    private static DbCommand ScopeCommand(DbCommand command, string statements)
    {
        var set = command.Connection!.CreateCommand();
        set.Transaction = command.Transaction;
        set.CommandText = statements;
        return set;
    }
#pragma warning restore CA2100

    /// <summary>Once a command that carried the scope has run, the transaction holds it: later commands go as they are.</summary>
    private static void Sent(DbCommand command, CommandEventData eventData)
    {
        if (eventData.Context is TenantDbContext { ScopeStatements: { } statements } db
            && command.CommandText.StartsWith(statements, StringComparison.Ordinal))
        {
            db.ScopeSent();
        }
    }
}

public sealed class TenantNotSetException()
    : InvalidOperationException("Tenant data was used with no tenant set. Run it inside TenantUnitOfWork.");
