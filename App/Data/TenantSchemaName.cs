using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace AgentSpace.Data;

/// <summary>
/// A tenant's schema and role name. Built only from a server-generated id and checked against
/// <c>^t_[a-z0-9]{8,32}$</c> before it reaches SQL, so it is safe to place in DDL.
/// </summary>
public sealed partial record TenantSchemaName
{
    private TenantSchemaName(string value) => Value = value;

    public string Value { get; }

    public static TenantSchemaName NewRandom() => new("t_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));

    public static TenantSchemaName Parse(string value) =>
        IsValid(value) ? new TenantSchemaName(value) : throw new ArgumentException("Not a tenant schema name.", nameof(value));

    public static bool IsValid(string? value) => value is not null && Pattern().IsMatch(value);

    /// <summary>The name as a quoted SQL identifier.</summary>
    public string Quoted => "\"" + Value + "\"";

    /// <summary>
    /// What enters this tenant for the rest of the transaction: its role, and its schema on the search path.
    /// SET takes no bind parameters; the name is a validated identifier, quoted.
    /// </summary>
    public string ScopeStatements => $"SET LOCAL ROLE {Quoted}; SET LOCAL search_path = {Quoted}, extensions; ";

    public override string ToString() => Value;

    [GeneratedRegex("^t_[a-z0-9]{8,32}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
