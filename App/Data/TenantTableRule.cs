using System.Text.RegularExpressions;

namespace AgentSpace.Data;

/// <summary>What a tenant's role may do to one of its tables, beyond the default of reading and writing it.</summary>
public enum TenantTableAccess
{
    /// <summary>SELECT and INSERT only: rows are never changed or removed (an audit log).</summary>
    AppendOnly,

    /// <summary>SELECT only: written by migrations or the owner role, never by tenant work.</summary>
    ReadOnly,
}

/// <summary>
/// A feature's rule for one of its tenant tables, applied by <see cref="SchemaMigrator"/> to every tenant
/// schema after each migration, so the migrator lists no feature's tables by name.
/// </summary>
public sealed partial record TenantTableRule
{
    public TenantTableRule(string table, TenantTableAccess access)
    {
        // Placed in DDL (which takes no bind parameters): a plain lower-case name only.
        Table = PlainName().IsMatch(table) ? table : throw new ArgumentException($"'{table}' is not a plain table name.", nameof(table));
        Access = access;
    }

    public string Table { get; }

    public TenantTableAccess Access { get; }

    /// <summary>The statement that takes away what the rule forbids, for the tenant role of <paramref name="tenant"/>.</summary>
    internal string RevokeSql(TenantSchemaName tenant)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        var rights = Access == TenantTableAccess.AppendOnly ? "UPDATE, DELETE, TRUNCATE" : "INSERT, UPDATE, DELETE, TRUNCATE";
        return $"REVOKE {rights} ON {tenant.Quoted}.\"{Table}\" FROM {tenant.Quoted};";
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainName();
}

public static class TenantTableRuleServiceCollectionExtensions
{
    public static IServiceCollection AddTenantTableRule(this IServiceCollection services, TenantTableRule rule) =>
        services.AddSingleton(rule);
}
