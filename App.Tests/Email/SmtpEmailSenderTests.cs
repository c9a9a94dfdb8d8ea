using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AgentSpace.Email;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AgentSpace.Tests.Email;

/// <summary>MailKit against a real SMTP server (Debian's python3-aiosmtpd, run by Debian's /usr/bin/python3) on loopback.</summary>
public sealed class SmtpEmailSenderTests : IAsyncLifetime
{
    private readonly string _maildir = Path.Combine(Path.GetTempPath(), "agentspace-smtp-" + Guid.NewGuid().ToString("N"));
    private Process? _server;
    private int _port;

    public async Task InitializeAsync()
    {
        _port = FreePort();
        // aiosmtpd's Mailbox handler creates the maildir (with tmp/new/cur) itself.
        _server = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{_port}", "-c", "aiosmtpd.handlers.Mailbox", _maildir])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        }) ?? throw new InvalidOperationException("/usr/bin/python3 -m aiosmtpd did not start (apt-get install python3-aiosmtpd)");
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, _port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        throw new InvalidOperationException("aiosmtpd did not listen: " + await _server.StandardError.ReadToEndAsync());
    }

    public Task DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
        }
        _server?.Dispose();
        if (Directory.Exists(_maildir))
        {
            Directory.Delete(_maildir, recursive: true);
        }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Send_PlaintextServerWithDefaultSecurity_DeliversNothingAndSaysTlsIsMissing()
    {
        // The default: TLS is required. A server (or a man in the middle) that offers no STARTTLS gets nothing.
        var sender = Sender(new SmtpOptions { Host = "127.0.0.1", Port = _port });

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => sender.SendAsync(Message(), default));

        Assert.Contains("STARTTLS", failure.Message, StringComparison.Ordinal);
        Assert.Empty(Delivered());
    }

    [Fact]
    public async Task Send_ExplicitPlaintextToLoopback_Delivers()
    {
        var sender = Sender(new SmtpOptions { Host = "127.0.0.1", Port = _port, Security = SmtpSecurity.None });

        await sender.SendAsync(Message(), default);

        var text = await File.ReadAllTextAsync(Assert.Single(Delivered()));
        Assert.Contains("Subject: Hello over SMTP", text, StringComparison.Ordinal);
        Assert.Contains("someone@example.com", text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(PickupFolder));
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("mail.example.com")]
    [InlineData("localhost.example.com")]
    public async Task Send_ExplicitPlaintextToNonLoopbackHost_IsRefused(string host)
    {
        // Refused before connecting: names are never resolved to decide.
        var sender = Sender(new SmtpOptions { Host = host, Port = _port, Security = SmtpSecurity.None });

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => sender.SendAsync(Message(), default));

        Assert.Contains("loopback", failure.Message, StringComparison.Ordinal);
        Assert.Empty(Delivered());
    }

    private string PickupFolder => Path.Combine(_maildir, "pickup-should-stay-empty");

    private EmailSender Sender(SmtpOptions smtp) => new(
        Options.Create(new EmailOptions { From = "AgentSpace <no-reply@agentspace.test>", Smtp = smtp, PickupDirectory = PickupFolder }),
        new FakeEnv(),
        NullLogger<EmailSender>.Instance);

    private static EmailMessage Message() =>
        new("someone@example.com", "Hello over SMTP", "Plain body with https://x.test/link", "<p>HTML</p>");

    private string[] Delivered()
    {
        var folder = Path.Combine(_maildir, "new");
        return Directory.Exists(folder) ? Directory.GetFiles(folder) : [];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class FakeEnv : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Testing";
        public string ApplicationName { get; set; } = "App";
        public string ContentRootPath { get; set; } = "/";
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }
}
