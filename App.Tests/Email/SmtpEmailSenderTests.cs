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
    public async Task Send_WithSmtpConfigured_DeliversThroughServer()
    {
        var options = Options.Create(new EmailOptions
        {
            From = "AgentSpace <no-reply@agentspace.test>",
            Smtp = new SmtpOptions { Host = "127.0.0.1", Port = _port, UseStartTls = false },
            PickupDirectory = Path.Combine(_maildir, "pickup-should-stay-empty"),
        });
        var sender = new EmailSender(options, new FakeEnv(), NullLogger<EmailSender>.Instance);
        await sender.SendAsync(new EmailMessage("someone@example.com", "Hello over SMTP", "Plain body with https://x.test/link", "<p>HTML</p>"), default);

        var delivered = Directory.GetFiles(Path.Combine(_maildir, "new"));
        var raw = Assert.Single(delivered);
        var text = await File.ReadAllTextAsync(raw);
        Assert.Contains("Subject: Hello over SMTP", text, StringComparison.Ordinal);
        Assert.Contains("someone@example.com", text, StringComparison.Ordinal);
        Assert.False(Directory.Exists(options.Value.PickupDirectory));
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
