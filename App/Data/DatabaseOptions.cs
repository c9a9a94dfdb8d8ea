namespace AgentSpace.Data;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>The NOLOGIN role that owns schemas and tables; the login role switches to it for DDL only.</summary>
    public string OwnerRole { get; set; } = "app_owner";
}
