using System.Text.RegularExpressions;
using AgentSpace.Data;
using AgentSpace.Identity;
using AgentSpace.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace AgentSpace.Tests.Identity;

public sealed partial class MagicLinkTests(AppServices app) : IClassFixture<AppServices>
{
    private static string NewEmail() => $"user-{Guid.NewGuid():N}@example.com";

    private Task<MagicLinkRequestResult> RequestAsync(string email, string? ip = null) =>
        app.WithAsync<MagicLinkService, MagicLinkRequestResult>(s => s.RequestAsync(email, ip ?? RandomIp(), null, default));

    private Task<RedeemResult> RedeemAsync(string email, string token) =>
        app.WithAsync<MagicLinkService, RedeemResult>(s => s.RedeemAsync(email, token, "192.0.2.1", default));

    private Task<MagicLinkRequestResult> RequestWithoutIpAsync(string email) =>
        app.WithAsync<MagicLinkService, MagicLinkRequestResult>(s => s.RequestAsync(email, null, null, default));

    /// <summary>How many messages were actually written for <paramref name="email"/>.</summary>
    private async Task<int> MailCountAsync(string email)
    {
        var count = 0;
        foreach (var file in Directory.Exists(app.MailFolder) ? Directory.GetFiles(app.MailFolder, "*.eml") : [])
        {
            using var message = await MimeMessage.LoadAsync(file);
            count += message.To.Mailboxes.Count(m => m.Address == email);
        }
        return count;
    }

    private static string RandomIp() => $"10.{Random.Shared.Next(256)}.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}";

    private readonly HashSet<string> _readMail = [];

    /// <summary>Reads the token from the next unread email actually written for <paramref name="email"/>.</summary>
    private async Task<string> TokenFromMailAsync(string email)
    {
        for (var i = 0; i < 100; i++)
        {
            if (Directory.Exists(app.MailFolder))
            {
                foreach (var file in Directory.GetFiles(app.MailFolder, "*.eml").Where(f => !_readMail.Contains(f)).Order(StringComparer.Ordinal))
                {
                    using var message = await MimeMessage.LoadAsync(file);
                    if (message.To.Mailboxes.Any(m => m.Address == email) && TokenPattern().Match(message.TextBody ?? "") is { Success: true } m)
                    {
                        _readMail.Add(file);
                        return m.Groups[1].Value;
                    }
                }
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"No sign-in email for {email}");
    }

    [Fact]
    public async Task Redeem_ValidToken_SignsInAndCreatesAccountOnce()
    {
        var email = NewEmail();
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(email));
        var result = await RedeemAsync(email, await TokenFromMailAsync(email));
        Assert.True(result.Ok, result.Error);
        Assert.Equal(email, result.User!.Email);

        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(email));
        var again = await RedeemAsync(email, await TokenFromMailAsync(email));
        Assert.True(again.Ok);
        Assert.Equal(result.User.Id, again.User!.Id);
    }

    [Fact]
    public async Task Redeem_TokenUsedTwice_Fails()
    {
        var email = NewEmail();
        await RequestAsync(email);
        var token = await TokenFromMailAsync(email);
        Assert.True((await RedeemAsync(email, token)).Ok);
        var second = await RedeemAsync(email, token);
        Assert.False(second.Ok);
        Assert.Null(second.User);
    }

    [Fact]
    public async Task Redeem_ExpiredToken_Fails()
    {
        var email = NewEmail();
        await RequestAsync(email);
        var token = await TokenFromMailAsync(email);
        app.Clock.Advance(TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(1));
        Assert.False((await RedeemAsync(email, token)).Ok);
    }

    [Fact]
    public async Task Redeem_WithinFifteenMinutes_Succeeds()
    {
        var email = NewEmail();
        await RequestAsync(email);
        var token = await TokenFromMailAsync(email);
        app.Clock.Advance(TimeSpan.FromMinutes(14));
        Assert.True((await RedeemAsync(email, token)).Ok);
    }

    [Fact]
    public async Task Redeem_AnotherEmailsToken_Fails()
    {
        var victim = NewEmail();
        var attacker = NewEmail();
        await RequestAsync(victim);
        var token = await TokenFromMailAsync(victim);
        var result = await RedeemAsync(attacker, token);
        Assert.False(result.Ok);
        // And no account was made for the attacker's address.
        await using var db = await app.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        Assert.False(await db.Users.AnyAsync(u => u.Email == attacker));
    }

    [Fact]
    public async Task Redeem_GuessedToken_Fails()
    {
        var email = NewEmail();
        await RequestAsync(email);
        Assert.False((await RedeemAsync(email, new string('A', 43))).Ok);
    }

    [Fact]
    public async Task Request_TokenStoredOnlyAsHash()
    {
        var email = NewEmail();
        await RequestAsync(email);
        var token = await TokenFromMailAsync(email);
        await using var db = await app.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        var row = await db.SignInTokens.SingleAsync(t => t.Email == email);
        Assert.Equal(OpaqueToken.Hash(token), row.TokenHash);
        Assert.Equal(32, Convert.FromBase64String(Base64UrlToBase64(token)).Length); // 256 bits
        var raw = await app.Database.ScalarAsAdminAsync<long>($"select count(*) from platform.sign_in_tokens where position('{token}'::bytea in token_hash) > 0");
        Assert.Equal(0, raw);
    }

    [Fact]
    public async Task Request_SameEmailTooOften_IsRateLimited()
    {
        var email = NewEmail();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(email));
        }
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestAsync(email));
        app.Clock.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(email));
    }

    [Fact]
    public async Task Request_SameIpTooOften_IsRateLimited()
    {
        var ip = RandomIp();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(NewEmail(), ip));
        }
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestAsync(NewEmail(), ip));
    }

    [Fact]
    public async Task Request_PlusTaggedVariants_ShareTheAddressBucket()
    {
        var local = $"victim-{Guid.NewGuid():N}";
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"{local}@example.com"));
        }
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestAsync($"{local}+1@example.com"));
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestAsync($"{local.ToUpperInvariant()}+again@EXAMPLE.com"));
        // Another mailbox keeps its own bucket.
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"other-{local}@example.com"));
    }

    [Fact]
    public async Task Request_WithoutClientAddress_IsStillLimitedPerAddress()
    {
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(MagicLinkRequestResult.Sent, await RequestWithoutIpAsync(NewEmail()));
        }
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestWithoutIpAsync(NewEmail()));
    }

    [Fact]
    public async Task Request_ManyAddressesInOneIpv6Slash64_ShareOneBucket()
    {
        var prefix = $"2001:db8:{Random.Shared.Next(1, 0xffff):x}:{Random.Shared.Next(1, 0xffff):x}";
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(NewEmail(), $"{prefix}:{Random.Shared.Next(1, 0xffff):x}::{i + 1:x}"));
        }
        Assert.Equal(MagicLinkRequestResult.RateLimited, await RequestAsync(NewEmail(), $"{prefix}:ffff:ffff:ffff:fffe"));
        // The neighbouring /64 is someone else.
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(NewEmail(), $"2001:db8:ffff:{Random.Shared.Next(1, 0xffff):x}::1"));
    }

    [Fact]
    public async Task Request_FiftyInParallelForOneAddress_SendsFiveMails()
    {
        var email = NewEmail();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => RequestAsync(email))));
        Assert.Equal(5, results.Count(r => r == MagicLinkRequestResult.Sent));
        await Task.Delay(500);
        Assert.Equal(5, await MailCountAsync(email));
    }

    [Fact]
    public async Task Request_KnownAndUnknownEmail_GetTheSameAnswer()
    {
        var known = NewEmail();
        await app.CreateUserAsync(known);
        var unknown = NewEmail();
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(known));
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync(unknown));
        // Both get a working link: there is no observable difference in the answer or the email.
        Assert.NotEmpty(await TokenFromMailAsync(known));
        Assert.NotEmpty(await TokenFromMailAsync(unknown));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-an-email")]
    [InlineData("a@b")]
    [InlineData("a@b.com, c@d.com")]
    [InlineData("a b@c.com")]
    public async Task Request_InvalidEmail_IsRejectedAndNothingStored(string email)
    {
        Assert.Equal(MagicLinkRequestResult.InvalidEmail, await RequestAsync(email));
        await using var db = await app.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        Assert.False(await db.SignInTokens.AnyAsync(t => t.Email == email));
    }

    [Fact]
    public async Task Redeem_SuspendedAccount_Fails()
    {
        var email = NewEmail();
        var actor = await app.CreateUserAsync(email);
        await app.WithAsync<SessionService>(s => s.SuspendAsync(actor.UserId, default));
        await RequestAsync(email);
        var result = await RedeemAsync(email, await TokenFromMailAsync(email));
        Assert.False(result.Ok);
    }

    [Fact]
    public async Task Housekeeping_DeletesExpiredTokensAfterADay_KeepsFreshOnes()
    {
        var old = NewEmail();
        await RequestAsync(old);
        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(20));
        var fresh = NewEmail();
        await RequestAsync(fresh);

        var (tokens, _) = await app.WithAsync<SignInHousekeeping, (int, int)>(h => h.PurgeAsync(default));
        Assert.True(tokens >= 1);
        await using var db = await app.Get<IDbContextFactory<PlatformDbContext>>().CreateDbContextAsync();
        Assert.False(await db.SignInTokens.AnyAsync(t => t.Email == old));
        Assert.True(await db.SignInTokens.AnyAsync(t => t.Email == fresh));
        Assert.True((await RedeemAsync(fresh, await TokenFromMailAsync(fresh))).Ok);
    }

    [Theory]
    [InlineData("/orgs", true)]
    [InlineData("//evil.example/x", false)]
    [InlineData("/\\evil.example", false)]
    [InlineData("https://evil.example/", false)]
    [InlineData("/\t/evil.example", false)]
    [InlineData("/%09/evil.example", false)]
    [InlineData("/%2F%2Fevil.example", false)]
    [InlineData("/%5Cevil.example", false)]
    [InlineData("/%252F%252Fevil.example", false)]
    [InlineData("/o/acme/audit?actor=a%40example.com", true)]
    public void IsLocalReturnUrl_RejectsOpenRedirects(string url, bool expected) =>
        Assert.Equal(expected, MagicLinkService.IsLocalReturnUrl(url));

    private static string Base64UrlToBase64(string s)
    {
        var b = s.Replace('-', '+').Replace('_', '/');
        return b.PadRight(b.Length + ((4 - (b.Length % 4)) % 4), '=');
    }

    [GeneratedRegex(@"token=([A-Za-z0-9_\-]{43})")]
    private static partial Regex TokenPattern();
}
