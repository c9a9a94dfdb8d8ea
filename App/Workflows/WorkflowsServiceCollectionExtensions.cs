using System.Text;
using System.Threading.RateLimiting;
using AgentSpace.Components.Layout;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using MudBlazor;
using Npgsql;
using Quartz;

namespace AgentSpace.Workflows;

public static class WorkflowsServiceCollectionExtensions
{
    /// <summary>
    /// Workflows and the clustered Quartz scheduler that runs them: the ADO job store on PostgreSQL (tables in schema
    /// <c>quartz</c>, made by a platform migration, never by Quartz itself), every node a cluster member, job data
    /// kept as strings (ids only). <c>Workflows:Scheduler:Enabled=false</c> keeps this node out of the cluster.
    /// </summary>
    public static IServiceCollection AddWorkflows(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WorkflowSchedulerOptions>()
            .BindConfiguration(WorkflowSchedulerOptions.Section)
            .Validate(o => o.MaxConcurrency is >= 1 and <= 200, "Workflows:Scheduler:MaxConcurrency must be between 1 and 200.")
            .Validate(o => o.CheckinInterval > TimeSpan.Zero && o.CheckinMisfireThreshold > o.CheckinInterval,
                "Workflows:Scheduler:CheckinMisfireThreshold must be longer than CheckinInterval.")
            .Validate(o => o.MaxBatchSize is null || (o.MaxBatchSize >= 1 && o.MaxBatchSize <= o.MaxConcurrency),
                "Workflows:Scheduler:MaxBatchSize must be between 1 and MaxConcurrency.")
            .Validate(o => o.BatchFireAheadWindow is null || o.BatchFireAheadWindow >= TimeSpan.Zero, "Workflows:Scheduler:BatchFireAheadWindow must not be negative.")
            .Validate(o => o.IdleWaitTime is null || o.IdleWaitTime >= TimeSpan.FromSeconds(1), "Workflows:Scheduler:IdleWaitTime must be at least one second.")
            .Validate(o => o.SweepInterval >= TimeSpan.FromSeconds(1), "Workflows:Scheduler:SweepInterval must be at least one second.")
            .ValidateOnStart();
        services.AddRateLimiter(o => o.AddPolicy<string, WebhookRateLimitPolicy>(WebhookRateLimitPolicy.Name));
        services.AddOptions<WorkflowRunLimitOptions>()
            .BindConfiguration(WorkflowRunLimitOptions.Section)
            .Validate(o => o.MaxActiveRunsPerOrganization >= 1 && o.MaxActiveRunsPerWorkflow >= 1 && o.MaxWorkflowsPerOrganization >= 1 && o.MaxSchedulesPerOrganization >= 0,
                "Workflows:Limits values must be at least 1 (MaxSchedulesPerOrganization at least 0).")
            .ValidateOnStart();
        var options = configuration.GetSection(WorkflowSchedulerOptions.Section).Get<WorkflowSchedulerOptions>() ?? new WorkflowSchedulerOptions();
        var connectionString = configuration.GetConnectionString("Default") ?? "";
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = "agentspace-workflows";
                s.GenerateInstanceId = true;
                // Unset, each stays Quartz's own default; set, it is what the scheduler benchmark (bench/WorkflowBench) varies.
                if (options.MaxBatchSize is { } batch)
                {
                    s.MaxBatchSize = batch;
                }
                if (options.BatchFireAheadWindow is { } ahead)
                {
                    s.BatchTriggerAcquisitionFireAheadTimeWindow = ahead;
                }
                if (options.IdleWaitTime is { } idle)
                {
                    s.IdleWaitTime = idle;
                }
            });
            q.UseDefaultThreadPool(tp => tp.MaxConcurrency = options.MaxConcurrency);
            // Firings are on the wall clock, whatever TimeProvider the app registers (the tests' is frozen).
            q.UseTimeProvider(TimeProvider.System);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                // The app refuses to start without a database (ConnectionStringCheck); nothing is scheduled here.
                q.UseInMemoryStore();
                return;
            }
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(NpgsqlFactory.Instance, connectionString);
                store.ConfigureStore(o =>
                {
                    o.TablePrefix = "quartz.qrtz_";
                    o.StoreJobDataAsStrings = true;
                    o.MisfireThreshold = options.MisfireThreshold;
                    if (options.LockOnInsert is { } lockOnInsert)
                    {
                        o.LockOnInsert = lockOnInsert;
                    }
                });
                store.UseSystemTextJsonSerializer();
                store.UseClustering(c =>
                {
                    c.CheckinInterval = options.CheckinInterval;
                    c.CheckinMisfireThreshold = options.CheckinMisfireThreshold;
                });
            });
        });
        services.AddHostedService<WorkflowSchedulerHost>();
        services.AddOutboundHttp();
        services.AddSingleton<WorkflowScheduler>();
        services.AddSingleton<WorkflowLiveRuns>();
        services.AddScoped<OutboxDelivery>();
        services.AddScoped<WorkflowRunner>();
        services.AddScoped<WorkflowService>();
        services.AddScoped<WorkflowRecovery>();
        services.AddOrgNavItem(new OrgNavItem("Workflows", "workflows", Icons.Material.Outlined.AccountTree, OrgRole.Viewer, 40));
        return services;
    }

    /// <summary>
    /// The inbound webhook: no cookie, no antiforgery (a machine calls it), authenticated by its signature alone.
    /// The body is read up to its limit before anything else; a larger one is refused with 413.
    /// </summary>
    public static IEndpointRouteBuilder MapWorkflowEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/hooks/{slug}/{path}", async (string slug, string path, HttpContext http, WorkflowService workflows) =>
        {
            http.Response.Headers.CacheControl = "no-store";
            if (path.Length > 64 || slug.Length > 100)
            {
                return Results.NotFound();
            }
            if (http.Request.ContentLength > WorkflowLimits.MaxWebhookBody)
            {
                return Results.Problem(statusCode: 413, title: $"The body is larger than {WorkflowLimits.MaxWebhookBody / 1024} KiB.");
            }
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
            {
                if (buffer.Length + read > WorkflowLimits.MaxWebhookBody)
                {
                    return Results.Problem(statusCode: 413, title: $"The body is larger than {WorkflowLimits.MaxWebhookBody / 1024} KiB.");
                }
                buffer.Write(chunk, 0, read);
            }
            var headers = http.Request.Headers;
            var answer = await workflows.ReceiveWebhookAsync(slug, path, headers[WebhookSignature.TimestampHeader], headers[WebhookSignature.SignatureHeader],
                headers[WebhookSignature.IdempotencyHeader], buffer.ToArray(), http.RequestAborted);
            return answer.StatusCode == 202
                ? Results.Json(new { run = answer.RunId, status = "queued" }, statusCode: 202)
                : Results.Json(new { error = answer.Message }, statusCode: answer.StatusCode);
        }).AllowAnonymous().DisableAntiforgery().RequireRateLimiting(WebhookRateLimitPolicy.Name);
        return app;
    }
}

/// <summary>
/// Calls to one webhook address from one client address (its /64 for IPv6) per minute
/// (<c>Workflows:Limits:MaxWebhookCallsPerAddressPerMinute</c>): a flood is answered 429 before the vault is opened,
/// a run stored or a refusal audited.
/// </summary>
internal sealed class WebhookRateLimitPolicy(IOptions<WorkflowRunLimitOptions> options) : IRateLimiterPolicy<string>
{
    public const string Name = "workflow-webhooks";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = async (context, ct) =>
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        response.Headers.RetryAfter = "60";
        response.Headers.CacheControl = "no-store";
        await response.WriteAsJsonAsync(new { error = "Too many calls to this webhook from your address. Wait a minute and deliver it again." }, ct);
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        RateLimitPartition.GetFixedWindowLimiter(
            Hosting.ClientAddress.Bucket(httpContext.Connection.RemoteIpAddress) + " " + httpContext.Request.Path.Value,
            _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = Math.Max(1, options.Value.MaxWebhookCallsPerAddressPerMinute),
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            });
}
