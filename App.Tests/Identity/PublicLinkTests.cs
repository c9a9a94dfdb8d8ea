using System.Diagnostics;
using System.Net;
using AgentSpace.Identity;
using AgentSpace.Tenancy;
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
    [Fact]
    public async Task Start_ProductionWithoutPublicBaseUrl_RefusesWithOneLine()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "App.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = TestDatabase.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add("http://127.0.0.1:0");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["App__PublicBaseUrl"] = "";
        info.Environment.Remove("ASPNETCORE_URLS");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The app kept running without App:PublicBaseUrl outside Development.");
        }
        var error = (await stderr).Trim();
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("App:PublicBaseUrl", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain("   at ", await stdout, StringComparison.Ordinal);
    }
}
