using System.Text;
using AgentSpace.Components.Layout;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.Mvc;
using MudBlazor;

namespace AgentSpace.Audit;

public static class AuditServiceCollectionExtensions
{
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddSingleton<AuditLog>();
        // Append-only for the tenant's own role: the database, not only the app, refuses to change history.
        services.AddTenantTableRule(new TenantTableRule("audit_events", TenantTableAccess.AppendOnly));
        services.AddScoped<AuditService>();
        services.AddAuditAdminCommands();
        services.AddOrgNavItem(new OrgNavItem("Audit log", "audit", Icons.Material.Outlined.Policy, OrgRole.Admin, 900));
        return services;
    }

    /// <summary>
    /// CSV export, behind the cookie and the Admin role. A POST with the antiforgery token, since it writes
    /// an audit row (a GET could be triggered by another site or a prefetch); never stored by a cache.
    /// </summary>
    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/o/{slug}/audit/export.csv", async (string slug, [FromForm] string? actor, [FromForm] string? action, [FromForm] DateOnly? from, [FromForm] DateOnly? to,
            Actor who, HttpContext http, AuditService audit) =>
        {
            http.Response.Headers.CacheControl = "no-store";
            // Refusals (not a member: 404, below Admin: 403) propagate to UserFacingErrors.
            var csv = await audit.ExportCsvAsync(who, slug, new AuditFilter(actor, action, from, to), http.RequestAborted);
            return Results.File(Encoding.UTF8.GetBytes(csv), "text/csv; charset=utf-8", $"audit-{slug}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv");
        }).RequireAuthorization().RequireAntiforgery();
        return app;
    }
}
