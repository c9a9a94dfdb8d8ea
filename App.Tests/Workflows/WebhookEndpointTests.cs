using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Workflows;

/// <summary>The webhook address over real HTTP: no cookie needed, answers by status code, the body capped before anything is read into a run.</summary>
public sealed class WebhookEndpointTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    private async Task<(string Url, string Secret, string Slug, Actor Owner)> WebhookAsync()
    {
        await using var scope = app.Services.CreateAsyncScope();
        var factory = scope.ServiceProvider.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        var user = AppUser.Create($"owner-{Guid.NewGuid():N}@example.com", DateTimeOffset.UtcNow);
        db.Users.Add(user);
        await db.SaveChangesAsync();
        var owner = new Actor(user.Id, user.Email!, "203.0.113.9");
        var slug = "hook-" + Guid.NewGuid().ToString("N")[..8];
        await scope.ServiceProvider.GetRequiredService<OrganizationService>().CreateAsync(owner, slug, "Hook Co", default);
        var workflows = scope.ServiceProvider.GetRequiredService<WorkflowService>();
        var id = await workflows.SaveAsync(owner, slug, null, new WorkflowInput("On push", null,
            [new WorkflowStep { Name = "look", Kind = StepKinds.Condition, Text = "{{input}}", Pattern = "main", OnMatch = ConditionActions.Continue }], null, null, false), default);
        var hook = await workflows.EnableWebhookAsync(owner, slug, id, "http://localhost", default);
        return (new Uri(hook.Url).PathAndQuery, hook.Secret, slug, owner);
    }

    private static HttpRequestMessage Post(string path, byte[] body, string? timestamp = null, string? signature = null, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (timestamp is not null)
        {
            request.Headers.Add(WebhookSignature.TimestampHeader, timestamp);
        }
        if (signature is not null)
        {
            request.Headers.Add(WebhookSignature.SignatureHeader, signature);
        }
        if (key is not null)
        {
            request.Headers.Add(WebhookSignature.IdempotencyHeader, key);
        }
        return request;
    }

    [Fact]
    public async Task Post_SignedIsAccepted_UnsignedForgedReplayedUnknownAndOversizedAreRefusedWithTheirStatus()
    {
        var (path, secret, slug, owner) = await WebhookAsync();
        using var client = app.CreateClient();
        var body = Encoding.UTF8.GetBytes("{\"ref\":\"refs/heads/main\"}");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signature = WebhookSignature.Sign(WebhookSignature.SecretBytes(secret), long.Parse(now, System.Globalization.CultureInfo.InvariantCulture), body);

        using var unsigned = await client.SendAsync(Post(path, body));
        using var forged = await client.SendAsync(Post(path, body, now, "v1=" + new string('0', 64), "k1"));
        using var accepted = await client.SendAsync(Post(path, body, now, signature, "k1"));
        using var replayed = await client.SendAsync(Post(path, body, now, signature, "k1"));
        using var unknown = await client.SendAsync(Post($"/hooks/{slug}/{Guid.NewGuid():N}", body, now, signature, "k2"));
        using var oversized = await client.SendAsync(Post(path, new byte[WorkflowLimits.MaxWebhookBody + 1], now, signature, "k3"));

        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Contains(WebhookSignature.SignatureHeader, await unsigned.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Contains("\"status\":\"queued\"", await accepted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, replayed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversized.StatusCode);
        Assert.Equal("no-store", accepted.Headers.CacheControl?.ToString());

        // The accepted call stored one run, queued for the scheduler (which runs it: WorkflowRunTests); the refused ones stored none.
        await using var scope = app.Services.CreateAsyncScope();
        var run = Assert.Single(await scope.ServiceProvider.GetRequiredService<WorkflowService>().RunsAsync(owner, slug, null, default));
        Assert.Equal(RunStatus.Queued, run.Status);
        Assert.Equal(RunTriggers.Webhook, run.Trigger);
    }
}

/// <summary>The app with a small webhook call limit.</summary>
public sealed class FewWebhookCallsAppFactory : WebAppFactory
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Workflows:Limits:MaxWebhookCallsPerAddressPerMinute", "3");
    }
}

/// <summary>A flood of calls to one webhook address from one client is answered 429 before anything is read.</summary>
public sealed class WebhookRateLimitTests(FewWebhookCallsAppFactory app) : IClassFixture<FewWebhookCallsAppFactory>
{
    [Fact]
    public async Task Post_MoreCallsThanTheLimitFromOneAddress_AreAnswered429WithRetryAfter_AnotherAddressPathIsNotHeldUp()
    {
        using var client = app.CreateClient();
        var path = $"/hooks/nobody-{Guid.NewGuid():N}"[..30] + "/" + Guid.NewGuid().ToString("N");
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await client.PostAsync(path, new ByteArrayContent("{}"u8.ToArray()));
            answers.Add(response.StatusCode);
            if (i == 4)
            {
                Assert.Equal("60", response.Headers.GetValues("Retry-After").Single());
                Assert.Contains("Too many calls to this webhook", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
        }

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], answers);
        using var other = await client.PostAsync(path + "x", new ByteArrayContent("{}"u8.ToArray()));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }
}
