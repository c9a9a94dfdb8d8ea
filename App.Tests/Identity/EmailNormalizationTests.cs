using System.Text.RegularExpressions;
using AgentSpace.Identity;
using AgentSpace.Tests.Infrastructure;
using MimeKit;

namespace AgentSpace.Tests.Identity;

/// <summary>
/// One address, one account: the address is normalised once (NFKC, IDNA domain, lower case), the mail goes
/// to that normalised address, and the account is found by exactly that value. A look-alike address never
/// receives a link into someone else's account, and distinct addresses never share one.
/// </summary>
public sealed partial class EmailNormalizationTests(AppServices app) : IClassFixture<AppServices>
{
    private readonly HashSet<string> _readMail = [];

    private Task<MagicLinkRequestResult> RequestAsync(string email) =>
        app.WithAsync<MagicLinkService, MagicLinkRequestResult>(s => s.RequestAsync(email, "192.0.2.44", null, default));

    /// <summary>The sign-in mail whose recipient contains <paramref name="id"/>: to whom it was delivered and the email and token its link carries.</summary>
    private async Task<(string DeliveredTo, string LinkEmail, string Token)> MailAsync(string id)
    {
        for (var i = 0; i < 100; i++)
        {
            foreach (var file in (Directory.Exists(app.MailFolder) ? Directory.GetFiles(app.MailFolder, "*.eml") : []).Order(StringComparer.Ordinal))
            {
                using var message = await MimeMessage.LoadAsync(file);
                // As written on the wire (MimeKit shows a punycode domain decoded otherwise).
                var to = message.To.Mailboxes.Single().GetAddress(idnEncode: true);
                if (!to.Contains(id, StringComparison.Ordinal) || !_readMail.Add(file))
                {
                    continue;
                }
                var link = LinkPattern().Match(message.TextBody ?? "");
                var query = System.Web.HttpUtility.ParseQueryString(new Uri(link.Value).Query);
                return (to, query["email"]!, query["token"]!);
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"No sign-in mail for *{id}*");
    }

    private Task<RedeemResult> RedeemAsync(string email, string token) =>
        app.WithAsync<MagicLinkService, RedeemResult>(s => s.RedeemAsync(email, token, "192.0.2.44", default));

    private static string Unique() => Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public async Task Request_LongS_MailsTheNormalisedAddress_AndSignsIntoThatAccountOnly()
    {
        var id = Unique();
        var sam = await app.CreateUserAsync($"sam{id}@example.com");

        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"\u017Fam{id}@example.com"));
        var (to, linkEmail, token) = await MailAsync(id);
        // The link only ever reaches the mailbox of the account it opens.
        Assert.Equal($"sam{id}@example.com", to);
        var result = await RedeemAsync(linkEmail, token);
        Assert.True(result.Ok, result.Error);
        Assert.Equal(sam.UserId, result.User!.Id);
        Assert.Equal(to, result.User.Email);
    }

    [Theory]
    [InlineData("s\u00E1m")]   // sám
    [InlineData("\u0131nfo")]  // ınfo (dotless i), which ToUpperInvariant folds onto INFO
    public async Task Request_DistinctAddress_GetsItsOwnAccount(string lookalikeLocal)
    {
        var id = Unique();
        var plain = lookalikeLocal switch { "s\u00E1m" => "sam", _ => "info" };
        var existing = await app.CreateUserAsync($"{plain}{id}@example.com");

        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"{lookalikeLocal}{id}@example.com"));
        var (to, linkEmail, token) = await MailAsync(id);
        Assert.Equal($"{lookalikeLocal}{id}@example.com", to);
        var result = await RedeemAsync(linkEmail, token);
        Assert.True(result.Ok, result.Error);
        Assert.NotEqual(existing.UserId, result.User!.Id);
        Assert.Equal(to, result.User.Email);
    }

    [Fact]
    public async Task Request_UnicodeDomain_MailsThePunycodeAddress_AndFindsTheSameAccountEitherWay()
    {
        var id = Unique();
        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"Anna{id}@B\u00FCcher.example"));
        var first = await MailAsync(id);
        Assert.Equal($"anna{id}@xn--bcher-kva.example", first.DeliveredTo);
        var account = await RedeemAsync(first.LinkEmail, first.Token);
        Assert.True(account.Ok, account.Error);

        Assert.Equal(MagicLinkRequestResult.Sent, await RequestAsync($"anna{id}@xn--bcher-kva.example"));
        var second = await MailAsync(id);
        var again = await RedeemAsync(second.LinkEmail, second.Token);
        Assert.Equal(account.User!.Id, again.User!.Id);
    }

    [Theory]
    [InlineData("\u017Fam@Example.COM", "sam@example.com")]
    [InlineData("  USER@EXAMPLE.COM ", "user@example.com")]
    [InlineData("\uFF55\uFF53\uFF45\uFF52\uFF20example.com", "user@example.com")] // full-width letters and @
    [InlineData("\u212Aelvin@example.com", "kelvin@example.com")]                 // KELVIN SIGN
    [InlineData("anna@B\u00FCcher.example", "anna@xn--bcher-kva.example")]
    [InlineData("s\u00E1m@example.com", "s\u00E1m@example.com")]
    [InlineData("sa\u0301m@example.com", "s\u00E1m@example.com")]                // combining accent composes
    public void Normalize_MapsToOneCanonicalForm(string input, string expected)
    {
        Assert.Equal(expected, EmailAddress.Normalize(input));
        Assert.Equal(expected, EmailAddress.Normalize(expected));
    }

    [Theory]
    [InlineData("a@b")]
    [InlineData("a@-.com")]
    [InlineData("a@exa mple.com")]
    [InlineData("a\uFF20b\uFF20example.com")]
    public void Normalize_Invalid_IsNull(string input) => Assert.Null(EmailAddress.Normalize(input));

    [Theory]
    [InlineData("vic.tim@gmail.com", "victim@gmail.com")]
    [InlineData("v.i.c.t.i.m+news@googlemail.com", "victim@gmail.com")]
    [InlineData("victim+1@example.com", "victim@example.com")]
    [InlineData("vic.tim@example.com", "vic.tim@example.com")]
    public void RateKey_AddressesThatReachOneInbox_ShareOneBucket(string address, string key) =>
        Assert.Equal(key, EmailAddress.RateKey(address));

    [GeneratedRegex(@"https?://\S+")]
    private static partial Regex LinkPattern();
}
