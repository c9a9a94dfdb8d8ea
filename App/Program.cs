using AgentSpace.Workflows;
using AgentSpace;
using AgentSpace.Admin;
using AgentSpace.Audit;
using AgentSpace.Boardroom;
using AgentSpace.Components;
using AgentSpace.Data;
using AgentSpace.Hosting;
using AgentSpace.Identity;
using MudBlazor.Services;

var builder = WebApplication.CreateBuilder(AdminCommands.HostArguments(args));
builder.Logging.AddAdminCommandLogging(args);
builder.AddErrorTracking();

builder.Services.AddTrustedProxies(builder.Configuration);
builder.Services.AddAppDataProtection(builder.Configuration);
builder.Services.AddAppFeatures(builder.Configuration);
builder.Services.AddMudServices();
builder.Services.AddHealthEndpoints();
builder.Services.AddUserFacingErrors();
builder.Services.AddRazorComponents().AddInteractiveServerComponents();

var app = builder.Build();

if (AdminCommands.IsAdminCommand(args))
{
    return await app.RunAdminCommandAsync(args);
}

if (!app.PassesStartupChecks(Console.Error))
{
    return 1;
}

await app.MigrateOnStartupAsync();

app.UseTrustedProxies(app.Configuration);
if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error", createScopeForErrors: true);
    app.UseHsts();
}
app.UseSecurityHeaders();
app.UseUserFacingErrors();
app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
app.UseSameOriginBlazorHub();
app.UseCookiePolicy();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();
app.UseAntiforgery();

app.MapHealthEndpoints();
app.MapStaticAssets();
app.MapAuthEndpoints();
app.MapAuditEndpoints();
app.MapBoardroomEndpoints();
app.MapWorkflowEndpoints();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

await app.RunAsync();
return 0;

/// <summary>Entry point; public so integration tests can host it.</summary>
public partial class Program;
