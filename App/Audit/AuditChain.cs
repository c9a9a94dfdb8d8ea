using System.Buffers;
using System.Data;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AgentSpace.Data;
using Npgsql;
using NpgsqlTypes;

namespace AgentSpace.Audit;

/// <summary>
/// The hash chain over an <c>audit_events</c> table: appends serialized per table by a transaction-scoped
/// advisory lock, and verification that names the first row that does not fit.
/// </summary>
public static class AuditChain
{
    private const int LockClass = 0x41554454; // "AUDT"
    private static readonly string[] SecretKeyParts = ["token", "password", "secret", "key", "cookie", "authorization"];

    /// <summary>Appends one event inside the caller's open transaction and returns it.</summary>
    /// <param name="clock">Read once the chain's lock is held, so time follows the sequence.</param>
    public static Task<AuditEvent> AppendAsync(DbConnection connection, DbTransaction transaction, AuditChainRef chain, AuditEntry entry, TimeProvider clock, CancellationToken ct) =>
        AppendAsync(connection, transaction, chain, entry, clock, scopeStatements: "", ct);

    /// <param name="scopeStatements">Sent in front of the first statement (a tenant unit of work's scope, when nothing carried it yet).</param>
    internal static async Task<AuditEvent> AppendAsync(DbConnection connection, DbTransaction transaction, AuditChainRef chain, AuditEntry entry, TimeProvider clock,
        string scopeStatements, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(clock);
        var table = chain.Table;
        var lockScope = table.Contains('.', StringComparison.Ordinal) ? $"'{table}'" : "current_schema()";
        long lastSeq = 0;
        var prevHash = chain.Genesis.ToArray();
        var lastAt = DateTime.MinValue;
        // The lock and the read of the last row travel together: the read runs once the lock is held.
        await using (var last = Command(connection, transaction,
            $"{scopeStatements}select pg_advisory_xact_lock({LockClass}, hashtext({lockScope})); " +
            $"select seq, hash, occurred_at from {table} order by seq desc limit 1"))
        await using (var reader = await last.ExecuteReaderAsync(ct))
        {
            await reader.NextResultAsync(ct); // past the lock's own (empty) row
            if (await reader.ReadAsync(ct))
            {
                lastSeq = reader.GetInt64(0);
                prevHash = (byte[])reader.GetValue(1);
                lastAt = DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc);
            }
        }

        // Read under the lock, and never before the previous row: clocks step back, and several app
        // instances disagree, but the chain's time must not run backwards against its sequence.
        var ticks = clock.GetUtcNow().UtcTicks;
        var now = new DateTime(ticks - (ticks % 10), DateTimeKind.Utc); // PostgreSQL keeps microseconds
        var occurredAt = now < lastAt ? lastAt : now;
        var details = SerializeDetails(entry.Details);
        var seq = lastSeq + 1;
        var hash = ComputeHash(prevHash, seq, occurredAt, entry.ActorId, entry.ActorEmail, entry.Action, entry.Target, entry.Outcome, entry.Ip, details);

        await using (var insert = Command(connection, transaction,
            $"insert into {table} (seq, occurred_at, actor_id, actor_email, action, target, outcome, ip, details, prev_hash, hash) " +
            "values (@seq, @at, @actor, @email, @action, @target, @outcome, @ip, @details, @prev, @hash)"))
        {
            Add(insert, "seq", seq);
            Add(insert, "at", occurredAt);
            Add(insert, "actor", entry.ActorId);
            Add(insert, "email", entry.ActorEmail);
            Add(insert, "action", entry.Action);
            Add(insert, "target", entry.Target);
            Add(insert, "outcome", entry.Outcome);
            Add(insert, "ip", entry.Ip);
            ((NpgsqlCommand)insert).Parameters.Add(new NpgsqlParameter("details", NpgsqlDbType.Json) { Value = details });
            Add(insert, "prev", prevHash);
            Add(insert, "hash", hash);
            await insert.ExecuteNonQueryAsync(ct);
        }

        return new AuditEvent
        {
            Seq = seq,
            OccurredAt = occurredAt,
            ActorId = entry.ActorId,
            ActorEmail = entry.ActorEmail,
            Action = entry.Action,
            Target = entry.Target,
            Outcome = entry.Outcome,
            Ip = entry.Ip,
            Details = details,
            PrevHash = prevHash,
            Hash = hash,
        };
    }

    /// <summary>
    /// Walks the chain in order; reports the first row whose sequence, link or hash is wrong. Row 1 must link
    /// to the chain's own genesis, so a whole chain moved from another tenant is refused. With
    /// <paramref name="expectedHead"/> (a head recorded earlier, kept outside the database) it also
    /// detects a chain that was rewritten from some row on with fresh hashes, or cut short.
    /// </summary>
    public static Task<AuditVerification> VerifyAsync(DbConnection connection, DbTransaction? transaction, AuditChainRef chain, CancellationToken ct,
        AuditHead? expectedHead = null) =>
        VerifyAsync(connection, transaction, chain, scopeStatements: "", ct, expectedHead);

    internal static async Task<AuditVerification> VerifyAsync(DbConnection connection, DbTransaction? transaction, AuditChainRef chain, string scopeStatements,
        CancellationToken ct, AuditHead? expectedHead = null)
    {
        ArgumentNullException.ThrowIfNull(chain);
        await using var cmd = Command(connection, transaction,
            $"{scopeStatements}select seq, occurred_at, actor_id, actor_email, action, target, outcome, ip, details::text, prev_hash, hash from {chain.Table} order by seq");
        await using var reader = await cmd.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        long expectedSeq = 1;
        var prevHash = chain.Genesis.ToArray();
        long checkedRows = 0;
        var unbound = false;
        while (await reader.ReadAsync(ct))
        {
            var seq = reader.GetInt64(0);
            var occurredAt = DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc);
            Guid? actorId = reader.IsDBNull(2) ? null : reader.GetGuid(2);
            var actorEmail = reader.IsDBNull(3) ? null : reader.GetString(3);
            var action = reader.GetString(4);
            var target = reader.IsDBNull(5) ? null : reader.GetString(5);
            var outcome = reader.GetString(6);
            var ip = reader.IsDBNull(7) ? null : reader.GetString(7);
            var details = reader.GetString(8);
            var storedPrev = (byte[])reader.GetValue(9);
            var storedHash = (byte[])reader.GetValue(10);

            if (seq != expectedSeq)
            {
                return AuditVerification.Broken(checkedRows, expectedSeq, $"row {expectedSeq} is missing (next row is {seq})");
            }
            if (seq == 1 && !CryptographicOperations.FixedTimeEquals(storedPrev, prevHash))
            {
                if (!storedPrev.AsSpan().SequenceEqual(AuditChainRef.UnboundGenesis))
                {
                    return AuditVerification.Broken(checkedRows, seq, "row 1 does not start this log's chain: the log was copied from elsewhere or replaced");
                }
                // Written before chains were bound to their tenant: accepted, and said so.
                unbound = true;
                prevHash = storedPrev;
            }
            if (!CryptographicOperations.FixedTimeEquals(storedPrev, prevHash))
            {
                return AuditVerification.Broken(checkedRows, seq, $"row {seq} does not link to row {seq - 1}");
            }
            var hash = ComputeHash(prevHash, seq, occurredAt, actorId, actorEmail, action, target, outcome, ip, details);
            if (!CryptographicOperations.FixedTimeEquals(storedHash, hash))
            {
                return AuditVerification.Broken(checkedRows, seq, $"row {seq} was altered after it was written");
            }
            if (expectedHead is { } head && head.Seq == seq && !string.Equals(head.Hash, Convert.ToHexStringLower(storedHash), StringComparison.OrdinalIgnoreCase))
            {
                return AuditVerification.Broken(checkedRows, seq, $"row {seq} differs from the recorded head: the chain was rewritten up to or before it");
            }
            prevHash = storedHash;
            expectedSeq++;
            checkedRows++;
        }
        if (expectedHead is { } recorded && checkedRows < recorded.Seq)
        {
            return AuditVerification.Broken(checkedRows, checkedRows + 1, $"the chain ends at row {checkedRows}, before the recorded head row {recorded.Seq}: rows were removed");
        }
        var intact = AuditVerification.Intact(checkedRows, checkedRows == 0 ? null : new AuditHead(checkedRows, Convert.ToHexStringLower(prevHash)));
        return unbound
            ? intact with { Message = intact.Message + " (it was started before logs were bound to their organization, so a copy from another log would not be detected)" }
            : intact;
    }

    public static byte[] ComputeHash(byte[] prevHash, long seq, DateTime occurredAt, Guid? actorId, string? actorEmail,
        string action, string? target, string outcome, string? ip, string details)
    {
        ArgumentNullException.ThrowIfNull(prevHash);
        var buffer = new ArrayBufferWriter<byte>(512);
        buffer.Write(prevHash);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            // Canonical form: a JSON array in a fixed order.
            w.WriteStartArray();
            w.WriteNumberValue(seq);
            w.WriteStringValue(occurredAt.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            if (actorId is { } id) { w.WriteStringValue(id.ToString("D")); } else { w.WriteNullValue(); }
            WriteNullable(w, actorEmail);
            w.WriteStringValue(action);
            WriteNullable(w, target);
            w.WriteStringValue(outcome);
            WriteNullable(w, ip);
            w.WriteStringValue(details);
            w.WriteEndArray();
        }
        return SHA256.HashData(buffer.WrittenSpan);
    }

    /// <summary>Details as compact JSON with sorted keys; values under secret-looking keys are redacted.</summary>
    public static string SerializeDetails(IReadOnlyDictionary<string, string?>? details)
    {
        if (details is null || details.Count == 0)
        {
            return "{}";
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (key, value) in details.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WritePropertyName(key);
                if (value is null)
                {
                    w.WriteNullValue();
                }
                else
                {
                    w.WriteStringValue(IsSecretKey(key) ? "[redacted]" : Truncate(value, 500));
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static bool IsSecretKey(string key) =>
        SecretKeyParts.Any(part => key.Contains(part, StringComparison.OrdinalIgnoreCase));

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max] + "…";

    private static void WriteNullable(Utf8JsonWriter w, string? value)
    {
        if (value is null) { w.WriteNullValue(); } else { w.WriteStringValue(value); }
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
#pragma warning disable CA2100 // table names are two fixed literals chosen by the callers, never user input
        cmd.CommandText = sql;
#pragma warning restore CA2100
        return cmd;
    }

    private static void Add(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
    }
}

/// <summary>
/// One chain: its table and the genesis its row 1 links to. The genesis is derived from the tenant (or is the
/// platform's own), so a chain is bound to where it was written: copied whole into another tenant's table,
/// it fails verification at row 1.
/// </summary>
public sealed class AuditChainRef
{
    private const string GenesisDomain = "agentspace-audit-genesis:";

    private readonly byte[] _genesis;

    private AuditChainRef(string table, string owner)
    {
        Table = table;
        _genesis = SHA256.HashData(Encoding.UTF8.GetBytes(GenesisDomain + owner));
    }

    /// <summary>The platform's chain (sign-ins, deleted organizations). "platform" is never a tenant name.</summary>
    public static AuditChainRef Platform { get; } = new("platform.audit_events", "platform");

    /// <summary>"audit_events" (reached through the unit of work's search_path) or "platform.audit_events".</summary>
    public string Table { get; }

    /// <summary>SHA-256 of "agentspace-audit-genesis:" + the tenant's schema name, or + "platform".</summary>
    public ReadOnlySpan<byte> Genesis => _genesis;

    /// <summary>Chains written before this binding link row 1 to 32 zero bytes.</summary>
    internal static ReadOnlySpan<byte> UnboundGenesis => new byte[32];

    /// <summary>A tenant's chain, in its own schema (through the unit of work's search_path).</summary>
    public static AuditChainRef Tenant(TenantSchemaName tenant)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        return new("audit_events", tenant.Value);
    }
}

/// <summary>The last row of a chain: its sequence number and hash (hex). Recorded outside the database, it pins the history.</summary>
public sealed record AuditHead(long Seq, string Hash)
{
    public override string ToString() => $"{Seq}:{Hash}";

    public static bool TryParse(string? text, out AuditHead? head)
    {
        head = null;
        var parts = text?.Split(':');
        if (parts is not { Length: 2 } || !long.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var seq) || seq < 1
            || parts[1].Length != 64 || !parts[1].All(char.IsAsciiHexDigit))
        {
            return false;
        }
        head = new AuditHead(seq, parts[1].ToLowerInvariant());
        return true;
    }
}

public sealed record AuditVerification(bool Ok, long CheckedRows, long? BrokenSeq, string Message, AuditHead? Head)
{
    public static AuditVerification Intact(long rows, AuditHead? head) =>
        new(true, rows, null, $"OK: {rows} event(s), chain unbroken", head);

    public static AuditVerification Broken(long rows, long seq, string reason) =>
        new(false, rows, seq, $"Broken at row {seq}: {reason}", null);
}
