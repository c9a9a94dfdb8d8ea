using AgentSpace.Components.Layout;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using MudBlazor;

namespace AgentSpace.Boardroom;

public static class BoardroomServiceCollectionExtensions
{
    public static IServiceCollection AddBoardroom(this IServiceCollection services)
    {
        // Finalized records are append-only for the tenant's own role: the database refuses to change or remove one.
        services.AddTenantTableRule(new TenantTableRule("decision_records", TenantTableAccess.AppendOnly));
        services.AddSingleton<LiveBoardrooms>();
        services.AddSingleton<BoardroomShutdown>();
        services.AddHostedService(sp => sp.GetRequiredService<BoardroomShutdown>());
        services.AddSingleton<BoardroomEngine>();
        services.AddScoped<BoardroomService>();
        services.AddOrgNavItem(new OrgNavItem("Boardroom", "boardroom", Icons.Material.Outlined.Groups, OrgRole.Viewer, 30));
        services.AddOrgNavItem(new OrgNavItem("Decisions", "decisions", Icons.Material.Outlined.Gavel, OrgRole.Viewer, 35));
        return services;
    }

    /// <summary>
    /// Export as Markdown or PDF, behind the cookie: a POST with the antiforgery token, since it writes an audit row
    /// (a GET could be triggered by another site or a prefetch); never stored by a cache.
    /// </summary>
    public static IEndpointRouteBuilder MapBoardroomEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/o/{slug}/decisions/{id:guid}/export.{format}", async (string slug, Guid id, string format, Actor who, HttpContext http, BoardroomService boardroom) =>
        {
            http.Response.Headers.CacheControl = "no-store";
            var export = await boardroom.ExportAsync(who, slug, id, format, http.RequestAborted);
            return Results.File(export.Bytes, export.ContentType, export.FileName);
        }).RequireAuthorization().RequireAntiforgery();
        return app;
    }
}
