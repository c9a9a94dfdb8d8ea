using System.Net;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Hosting;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Identity;

/// <summary>Emailed links never take their host from the request: a forged Host header cannot put a live token on an attacker's site.</summary>
public sealed class PublicLinkDevelopmentTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    [Fact]
    public async Task RequestLink_ForgedHostWithoutConfiguredBase_MailsLinkOnTheListeningAddress()
    {
        var email = $"host-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser("evil.example");
        Assert.Equal("/signin/sent", (await WebAppFactory.RequestLinkAsync(browser, email)).Headers.Location?.OriginalString);
        var link = new Uri(await app.LinkFromMailAsync(email, "/auth/redeem"));
        Assert.NotEqual("evil.example", link.Host);
        Assert.Equal("localhost", link.Host);
    }
}

/// <summary>App:PublicBaseUrl set; AllowedHosts opened on purpose, so a forged Host reaches the endpoint.</summary>
public sealed class ConfiguredBaseFactory : WebAppFactory
{
    public const string PublicBase = "https://agentspace.test";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("App:PublicBaseUrl", PublicBase + "/");
        builder.UseSetting("AllowedHosts", "*");
    }
}

public sealed class PublicLinkTests(ConfiguredBaseFactory app) : IClassFixture<ConfiguredBaseFactory>
{
    [Fact]
    public async Task RequestLink_ForgedHostHeader_MailsLinkOnConfiguredBase()
    {
        var email = $"host-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser("evil.example");
        Assert.Equal("/signin/sent", (await WebAppFactory.RequestLinkAsync(browser, email)).Headers.Location?.OriginalString);
        var link = await app.LinkFromMailAsync(email, "/auth/redeem");
        Assert.StartsWith(ConfiguredBaseFactory.PublicBase + "/auth/redeem?email=", link, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invite_MailsLinkOnConfiguredBase()
    {
        var ownerEmail = $"owner-{Guid.NewGuid():N}@example.com";
        var inviteeEmail = $"invitee-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser("evil.example");
        await app.SignInAsync(browser, ownerEmail, new HashSet<string>());
        await using var scope = app.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<AgentSpace.Data.PlatformDbContext>>();
        await using var db = await users.CreateDbContextAsync();
        var ownerId = db.Users.Single(u => u.Email == ownerEmail).Id;
        var owner = new Actor(ownerId, ownerEmail, "203.0.113.9");
        var slug = "inv-" + Guid.NewGuid().ToString("N")[..8];
        await scope.ServiceProvider.GetRequiredService<OrganizationService>().CreateAsync(owner, slug, "Invite Co", default);

        await scope.ServiceProvider.GetRequiredService<MemberService>().InviteAsync(owner, slug, inviteeEmail, OrgRole.Member, default);

        var link = await app.LinkFromMailAsync(inviteeEmail, "/invitations/accept");
        Assert.StartsWith(ConfiguredBaseFactory.PublicBase + "/invitations/accept?token=", link, StringComparison.Ordinal);
    }
}

/// <summary>App:PublicBaseUrl set and AllowedHosts left alone: the host filter follows the public URL.</summary>
public sealed class HostFilterFactory : WebAppFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("App:PublicBaseUrl", "https://agentspace.test");
    }
}

public sealed class HostFilterTests(HostFilterFactory app) : IClassFixture<HostFilterFactory>
{
    [Fact]
    public async Task RequestLink_ForgedHostHeader_IsRefusedAndNothingMailed()
    {
        var email = $"host-{Guid.NewGuid():N}@example.com";
        using var good = app.CreateBrowser("agentspace.test");
        var token = await good.AntiforgeryTokenFromAsync("/signin");
        using var evil = app.CreateBrowser("evil.example");
        foreach (var (name, value) in good.Cookies)
        {
            evil.Cookies[name] = value;
        }
        var response = await evil.PostFormAsync("/auth/magic-link", new Dictionary<string, string> { ["email"] = email, ["__RequestVerificationToken"] = token });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await Task.Delay(300);
        Assert.False(Directory.Exists(app.MailFolder) && Directory.GetFiles(app.MailFolder).Any(f => File.ReadAllText(f).Contains(email, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task SignInPage_OnThePublicHost_Works()
    {
        using var browser = app.CreateBrowser("agentspace.test");
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/signin")).StatusCode);
    }
}

/// <summary>The real App.dll, started as an operator would, outside Development.</summary>
public sealed class PublicBaseUrlStartupTests
{
    private static async Task<(int Code, string Error, string Output)> StartProductionAsync(string publicBaseUrl)
    {
        await using var app = AppDll.Start(new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Default"] = $"Host=127.0.0.1;Port={AppDll.FreePort()};Database=none;Username=none;Password=none",
            ["App__PublicBaseUrl"] = publicBaseUrl,
            // Past the mail check, which would refuse first.
            ["Email__AllowPickupDirectory"] = "true",
            ["Vault__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        });
        Assert.True(await app.WaitForExitAsync(TimeSpan.FromSeconds(60)), "The app kept running with an unusable App:PublicBaseUrl outside Development.");
        return (app.ExitCode, app.StandardError, app.StandardOutput);
    }

    [Theory]
    [InlineData("")]
    [InlineData("agentspace.example")]
    [InlineData("https://agentspace.example/?next=x")]
    [InlineData("https://ops:hunter2-canary@agentspace.example")]
    public async Task Start_ProductionWithoutUsablePublicBaseUrl_RefusesWithOneLine(string publicBaseUrl)
    {
        var (code, error, output) = await StartProductionAsync(publicBaseUrl);
        Assert.DoesNotContain("hunter2-canary", output + error, StringComparison.Ordinal);
        Assert.Equal(1, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: App:PublicBaseUrl", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ProductionWithPublicBaseUrl_ServesItsHostAndLoopbackOnly()
    {
        await using var app = AppDll.Start(new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Default"] = $"Host=127.0.0.1;Port={AppDll.FreePort()};Database=none;Username=none;Password=none",
            ["App__PublicBaseUrl"] = "https://agentspace.example",
            ["Email__AllowPickupDirectory"] = "true",
            ["Vault__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Email__PickupDirectory"] = Path.Combine(Path.GetTempPath(), "agentspace-host-mail-" + Guid.NewGuid().ToString("N")),
        });
        using var local = await app.GetWhenListeningAsync("/health/live", TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);

        using var http = new HttpClient { BaseAddress = app.BaseUrl };
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        forged.Headers.Host = "evil.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(forged)).StatusCode);
        using var publicHost = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        publicHost.Headers.Host = "agentspace.example";
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(publicHost)).StatusCode);
    }
}
