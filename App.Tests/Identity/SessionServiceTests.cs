using System.Security.Claims;
using AgentSpace.Identity;
using AgentSpace.Tests.Infrastructure;

namespace AgentSpace.Tests.Identity;

public sealed class SessionServiceTests(AppServices app) : IClassFixture<AppServices>
{
    private async Task<ClaimsPrincipal> SignInAsync(Actor user, string ip) =>
        await app.WithAsync<SessionService, ClaimsPrincipal>(s => s.StartAsync(new AppUser { Id = user.UserId, Email = user.Email }, ip, "TestBrowser/1.0", default));

    private Task<bool> IsActiveAsync(ClaimsPrincipal p) => app.WithAsync<SessionService, bool>(s => s.IsActiveAsync(p, default));

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
}
