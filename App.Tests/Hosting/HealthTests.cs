using System.Net;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace AgentSpace.Tests.Hosting;

/// <summary>The probes a load balancer or orchestrator calls, without signing in.</summary>
public sealed class HealthTests(WebAppFactory app) : IClassFixture<WebAppFactory>
{
    [Fact]
    public async Task Live_Anonymous_Answers200()
    {
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_DatabaseUp_Answers200()
    {
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Probe_Post_IsNotAnswered(string path)
    {
        using var client = app.CreateClient();

        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), content: null);

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("Healthy", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}

public sealed class HealthWithoutDatabaseTests(HealthWithoutDatabaseTests.ClosedPortFactory app) : IClassFixture<HealthWithoutDatabaseTests.ClosedPortFactory>
{
    /// <summary>The app pointed at a port where no database listens.</summary>
    public sealed class ClosedPortFactory : WebApplicationFactory<Program>
    {
        public int Port { get; } = AppDll.FreePort();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Development");
            builder.UseSetting("ConnectionStrings:Default", $"Host=127.0.0.1;Port={Port};Database=agentspace;Username=app_login;Password=unused;Timeout=3");
            builder.UseSetting("Database:MigrateOnStartup", "false");
            builder.UseSetting("Email:PickupDirectory", Path.Combine(Path.GetTempPath(), "agentspace-health-mail-" + Guid.NewGuid().ToString("N")));
        }
    }

    [Fact]
    public async Task Ready_DatabaseDown_Answers503WithoutDetails()
    {
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Unhealthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Live_DatabaseDown_StillAnswers200()
    {
        using var client = app.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
