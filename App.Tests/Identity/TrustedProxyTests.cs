using System.Net;
using AgentSpace.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AgentSpace.Tests.Identity;

/// <summary>Every request arrives from 10.9.9.9, as if through a reverse proxy at that address.</summary>
public class BehindProxyFactory : WebAppFactory
{
    public const string ProxyAddress = "10.9.9.9";

    protected virtual string? TrustedProxies => null;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        if (TrustedProxies is not null)
        {
            builder.UseSetting("App:TrustedProxies", TrustedProxies);
        }
        builder.ConfigureServices(s => s.AddSingleton<IStartupFilter, FromProxy>());
    }

    private sealed class FromProxy : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, RequestDelegate nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(ProxyAddress);
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}

public sealed class TrustedProxyFactory : BehindProxyFactory
{
    protected override string? TrustedProxies => ProxyAddress;
}

public abstract class ProxyTestsBase(WebAppFactory app)
{
    protected async Task<string?> IpRecordedForSignInRequestAsync(string forwardedFor)
    {
        var email = $"proxy-{Guid.NewGuid():N}@example.com";
        using var browser = app.CreateBrowser();
        var token = await browser.AntiforgeryTokenFromAsync("/signin");
        var request = new HttpRequestMessage(HttpMethod.Post, "/auth/magic-link")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = email, ["__RequestVerificationToken"] = token }),
        };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        var response = await browser.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return await app.Database.ScalarAsAdminAsync<string>(
            $"select ip from platform.audit_events where action = 'signin.requested' and actor_email = '{email}'");
    }
}

public sealed class TrustedProxyTests(TrustedProxyFactory app) : ProxyTestsBase(app), IClassFixture<TrustedProxyFactory>
{
    [Fact]
    public async Task ForwardedFor_FromTrustedProxy_IsTheClientAddress() =>
        Assert.Equal("203.0.113.5", await IpRecordedForSignInRequestAsync("203.0.113.5"));
}

public sealed class UntrustedProxyTests(BehindProxyFactory app) : ProxyTestsBase(app), IClassFixture<BehindProxyFactory>
{
    [Fact]
    public async Task ForwardedFor_WithoutTrustedProxies_IsIgnored() =>
        Assert.Equal(BehindProxyFactory.ProxyAddress, await IpRecordedForSignInRequestAsync("203.0.113.5"));
}
