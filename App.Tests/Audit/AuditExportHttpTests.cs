using System.Net;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Audit;

/// <summary>
/// The CSV export writes an audit row, so it is a POST with the antiforgery token (another site cannot
/// make an admin's browser export, nor a crawler by following a link), and the file is never cached.
/// </summary>
public sealed class AuditExportHttpTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    private readonly HashSet<string> _readMail = [];

    private async Task<(BrowserLikeClient Browser, string Slug)> OwnerWithOrgAsync()
    {
        var email = $"export-{Guid.NewGuid():N}@example.com";
        var browser = app.CreateBrowser();
        await app.SignInAsync(browser, email, _readMail);
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        var id = await db.Users.Where(u => u.Email == email).Select(u => u.Id).SingleAsync();
        var slug = "exp-" + Guid.NewGuid().ToString("N")[..8];
        await scope.ServiceProvider.GetRequiredService<OrganizationService>().CreateAsync(new Actor(id, email, null), slug, "Export Co", default);
        return (browser, slug);
    }

    private async Task<long> ExportedCountAsync(string slug)
    {
        var schema = await app.Database.ScalarAsAdminAsync<string>($"select schema_name from platform.organizations where slug = '{slug}'");
        return await app.Database.ScalarAsAdminAsync<long>($"select count(*) from \"{schema}\".audit_events where action = 'audit.exported'");
    }

    [Fact]
    public async Task Export_PostWithToken_ReturnsCsvThatIsNotStored()
    {
        var (browser, slug) = await OwnerWithOrgAsync();
        using (browser)
        {
            var token = await browser.AntiforgeryTokenFromAsync("/account");
            var response = await browser.PostFormAsync($"/o/{slug}/audit/export.csv", new Dictionary<string, string>
            {
                ["action"] = "org.created",
                ["__RequestVerificationToken"] = token,
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
            Assert.True(response.Headers.CacheControl?.NoStore, "Cache-Control: no-store missing");
            var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("seq,", lines[0], StringComparison.Ordinal);
            Assert.All(lines.Skip(1), l => Assert.Contains("\"org.created\"", l, StringComparison.Ordinal));
            Assert.Equal(1, await ExportedCountAsync(slug));
        }
    }

    [Fact]
    public async Task Export_PostWithoutToken_IsRefusedAndNotAudited()
    {
        var (browser, slug) = await OwnerWithOrgAsync();
        using (browser)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/o/{slug}/audit/export.csv") { Content = new FormUrlEncodedContent(new Dictionary<string, string>()) };
            request.Headers.Add("Origin", "http://evil.example");
            var response = await browser.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(0, await ExportedCountAsync(slug));
        }
    }

    [Fact]
    public async Task Export_ByGet_ExportsNothing()
    {
        var (browser, slug) = await OwnerWithOrgAsync();
        using (browser)
        {
            var response = await browser.GetAsync($"/o/{slug}/audit/export.csv");
            Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(0, await ExportedCountAsync(slug));
        }
    }

    [Theory]
    [InlineData(null, HttpStatusCode.NotFound, "Organization not found.")]
    [InlineData(OrgRole.Viewer, HttpStatusCode.Forbidden, "This needs the Admin role or higher.")]
    public async Task Export_ByNonMemberOrViewer_IsRefusedWithProblemDetailsAndExportsNothing(OrgRole? role, HttpStatusCode expected, string title)
    {
        var (owner, slug) = await OwnerWithOrgAsync();
        owner.Dispose();
        var email = $"outsider-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser();
        await app.SignInAsync(browser, email, _readMail);
        if (role is { } r)
        {
            await using var scope = app.Services.CreateAsyncScope();
            await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
            var userId = await db.Users.Where(u => u.Email == email).Select(u => u.Id).SingleAsync();
            var orgId = await db.Organizations.Where(o => o.Slug == slug).Select(o => o.Id).SingleAsync();
            db.Memberships.Add(new Membership { OrganizationId = orgId, UserId = userId, Role = r, JoinedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var token = await browser.AntiforgeryTokenFromAsync("/account");
        var response = await browser.PostFormAsync($"/o/{slug}/audit/export.csv", new Dictionary<string, string> { ["__RequestVerificationToken"] = token });

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains($"\"title\":\"{title}\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("seq,", body, StringComparison.Ordinal);
        Assert.Equal(0, await ExportedCountAsync(slug));
    }
}
