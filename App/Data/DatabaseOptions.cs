namespace AgentSpace.Data;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>The NOLOGIN role that owns schemas and tables; the login role switches to it for DDL only.</summary>
    public string OwnerRole { get; set; } = "app_owner";

    /// <summary>
    /// What an outbound HTTP request (model call, webhook, any <c>IHttpClientFactory</c> client) or another slow
    /// call does when started inside a tenant unit of work: true throws, false logs an error and lets it run.
    /// Unset: throws everywhere but Production, so tests and development catch the mistake.
    /// </summary>
    public bool? ThrowOnSlowCallInUnitOfWork { get; set; }
}
