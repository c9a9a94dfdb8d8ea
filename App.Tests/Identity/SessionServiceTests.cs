using System.Security.Claims;
using AgentSpace.Identity;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Identity;

public sealed class SessionServiceTests(AppServices app) : IClassFixture<AppServices>
{
    private async Task<ClaimsPrincipal> SignInAsync(Actor user, string ip) =>
        await app.WithAsync<SessionService, ClaimsPrincipal>(s => s.StartAsync(new AppUser { Id = user.UserId, Email = user.Email }, ip, "TestBrowser/1.0", default));

    private Task<bool> IsActiveAsync(ClaimsPrincipal p) => app.WithAsync<SessionService, bool>(s => s.IsActiveAsync(p, recordUse: true, default));

    [Fact]
    public async Task ListOpen_ShowsOnlyOwnOpenSessions_MarksCurrent()
    {
        var alice = await app.CreateUserAsync($"alice-{Guid.NewGuid():N}@example.com");
        var bob = await app.CreateUserAsync($"bob-{Guid.NewGuid():N}@example.com");
        var laptop = await SignInAsync(alice, "198.51.100.1");
        await SignInAsync(alice, "198.51.100.2");
        await SignInAsync(bob, "198.51.100.3");

        var rows = await app.WithAsync<SessionService, IReadOnlyList<SessionRow>>(s => s.ListOpenAsync(laptop, default));
        Assert.Equal(2, rows.Count);
        Assert.Single(rows, r => r.Current);
        Assert.Equal("198.51.100.1", rows.Single(r => r.Current).Ip);
        Assert.DoesNotContain(rows, r => r.Ip == "198.51.100.3");
    }

    [Fact]
    public async Task EndOne_OwnOtherSession_EndsIt_AnotherAccountsSession_IsUntouched()
    {
        var alice = await app.CreateUserAsync($"alice-{Guid.NewGuid():N}@example.com");
        var bob = await app.CreateUserAsync($"bob-{Guid.NewGuid():N}@example.com");
        var laptop = await SignInAsync(alice, "198.51.100.1");
        var phone = await SignInAsync(alice, "198.51.100.2");
        var bobs = await SignInAsync(bob, "198.51.100.3");
        SessionService.TryRead(phone, out _, out var phoneSession);
        SessionService.TryRead(bobs, out _, out var bobSession);

        Assert.False(await app.WithAsync<SessionService, bool>(s => s.EndOneAsync(laptop, bobSession, null, default)));
        Assert.True(await IsActiveAsync(bobs));

        Assert.True(await app.WithAsync<SessionService, bool>(s => s.EndOneAsync(laptop, phoneSession, null, default)));
        Assert.False(await IsActiveAsync(phone));
        Assert.True(await IsActiveAsync(laptop));
    }

    private async Task<ClaimsPrincipal> NewSessionAsync() =>
        await SignInAsync(await app.CreateUserAsync($"idle-{Guid.NewGuid():N}@example.com"), "198.51.100.9");

    [Fact]
    public async Task IsActive_UsedEveryHour_EndsAtSevenDays()
    {
        var session = await NewSessionAsync();
        for (var hour = 1; hour < 7 * 24; hour++)
        {
            app.Clock.Advance(TimeSpan.FromHours(1));
            Assert.True(await IsActiveAsync(session), $"ended after {hour} h of use");
        }
        app.Clock.Advance(TimeSpan.FromHours(1));
        Assert.False(await IsActiveAsync(session));
    }

    [Fact]
    public async Task IsActive_IdleTwelveHours_Ends()
    {
        var session = await NewSessionAsync();
        app.Clock.Advance(TimeSpan.FromHours(12) + TimeSpan.FromMinutes(1));
        Assert.False(await IsActiveAsync(session));
        // Ended for good: using it again does not bring it back.
        Assert.False(await IsActiveAsync(session));
    }

    [Fact]
    public async Task IsActive_UsedWithinIdleLimit_Continues()
    {
        var session = await NewSessionAsync();
        for (var i = 0; i < 4; i++)
        {
            app.Clock.Advance(TimeSpan.FromHours(11));
            Assert.True(await IsActiveAsync(session), $"ended after {(i + 1) * 11} h");
        }
    }

    [Fact]
    public async Task ListOpen_ExpiredSession_IsNotListed()
    {
        var user = await app.CreateUserAsync($"list-{Guid.NewGuid():N}@example.com");
        var old = await SignInAsync(user, "198.51.100.10");
        app.Clock.Advance(TimeSpan.FromHours(13));
        var fresh = await SignInAsync(user, "198.51.100.11");
        var rows = await app.WithAsync<SessionService, IReadOnlyList<SessionRow>>(s => s.ListOpenAsync(fresh, default));
        Assert.Equal("198.51.100.11", Assert.Single(rows).Ip);
        Assert.False(await IsActiveAsync(old));
    }

    [Fact]
    public async Task SignOutEverywhere_WhenItsAuditRowCannotBeWritten_EndsNoSession()
    {
        var alice = await app.CreateUserAsync($"alice-{Guid.NewGuid():N}@example.com");
        var laptop = await SignInAsync(alice, "198.51.100.1");
        // Break the platform audit log for writes (as a full disk or a broken grant would).
        await app.Database.ExecuteAsAdminAsync("revoke insert on platform.audit_events from app_login");
        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => app.WithAsync<SessionService>(s => s.EndAllAsync(alice.UserId, alice.Email, null, default)));
            await Assert.ThrowsAnyAsync<Exception>(() => app.WithAsync<SessionService>(s => s.SuspendAsync(alice.UserId, default)));
        }
        finally
        {
            await app.Database.ExecuteAsAdminAsync("grant insert on platform.audit_events to app_login");
        }
        // Nothing happened that the log does not show: the session is still open and the account not suspended.
        Assert.True(await IsActiveAsync(laptop));
    }

    [Theory]
    [InlineData("/o/acme/members", true)]
    [InlineData("/auth/signout", true)]
    [InlineData("/", true)]
    [InlineData("/favicon.svg", false)]
    [InlineData("/app.css", false)]
    [InlineData("/_blazor", false)]
    [InlineData("/_framework/blazor.web.js", false)]
    public void IdleClock_OnlyWhatAPersonDoes_CountsAsUse(string path, bool counts)
    {
        // A tab left open keeps fetching static files and polling the hub: that must not keep a session alive.
        var request = new Microsoft.AspNetCore.Http.DefaultHttpContext().Request;
        request.Path = path;
        Assert.Equal(counts, IdentityServiceCollectionExtensions.IsPersonRequest(request));
    }
}
