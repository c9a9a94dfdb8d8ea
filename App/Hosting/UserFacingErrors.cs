using System.Globalization;
using Microsoft.AspNetCore.Mvc;

namespace AgentSpace.Hosting;

/// <summary>
/// The one place HTTP endpoints turn a <see cref="UserFacingException"/> into an answer: a ProblemDetails
/// body with the exception's status and message (and <c>Retry-After</c> for rate limits). Endpoints let
/// refusals propagate instead of catching them one by one. Any other exception stays a fault.
/// </summary>
public static class UserFacingErrors
{
    public static IServiceCollection AddUserFacingErrors(this IServiceCollection services) => services.AddProblemDetails();

    public static IApplicationBuilder UseUserFacingErrors(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            try
            {
                await next();
            }
            catch (UserFacingException ex) when (!context.Response.HasStarted)
            {
                // Blazor's circuit handles its own refusals (OrgPageBase); this covers plain HTTP endpoints.
                context.Response.Clear();
                context.Response.StatusCode = ex.StatusCode;
                if (ex is RateLimitedException { RetryAfter: { } retryAfter })
                {
                    context.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                }
                if (context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
                {
                    pages.Enabled = false;
                }
                var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
                var written = await problems.TryWriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = new ProblemDetails { Status = ex.StatusCode, Title = ex.Message },
                    Exception = ex,
                });
                if (!written)
                {
                    // A client that accepts no JSON still reads why.
                    context.Response.ContentType = "text/plain; charset=utf-8";
                    await context.Response.WriteAsync(ex.Message);
                }
            }
        });
}
