using System.Threading.Channels;
using AgentSpace.Data;
using AgentSpace.Hosting;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace AgentSpace.Email;

public interface IEmailSender
{
    Task SendAsync(EmailMessage message, CancellationToken ct);
}

/// <summary>Sends through SMTP with MailKit when <c>Email:Smtp:Host</c> is set, otherwise writes .eml files to the pickup folder.</summary>
public sealed class EmailSender(IOptions<EmailOptions> options, IHostEnvironment env, ILogger<EmailSender> logger) : IEmailSender
{
    public async Task SendAsync(EmailMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        var o = options.Value;
        using var mime = new MimeMessage();
        mime.From.Add(MailboxAddress.Parse(o.From));
        mime.To.Add(MailboxAddress.Parse(message.To));
        mime.Subject = message.Subject;
        if (message.MessageId is { Length: > 0 } messageId)
        {
            mime.MessageId = messageId;
        }
        mime.Body = new BodyBuilder { TextBody = message.TextBody, HtmlBody = message.HtmlBody }.ToMessageBody();

        if (!string.IsNullOrWhiteSpace(o.Smtp.Host))
        {
            // Checked at start-up too; checked again here so no code path can send a link in plaintext over the network.
            if (o.Smtp.Problem() is { } problem)
            {
                logger.LogError("Email to {To} not sent: {Problem}", message.To, problem);
                throw new InvalidOperationException(problem);
            }
            var security = o.Smtp.EffectiveSecurity switch
            {
                SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
                SmtpSecurity.None => SecureSocketOptions.None,
                // Never StartTlsWhenAvailable: a man in the middle strips the offer and reads the links.
                _ => SecureSocketOptions.StartTls,
            };
            using var client = new SmtpClient();
            try
            {
                await client.ConnectAsync(o.Smtp.Host, o.Smtp.Port, security, ct);
            }
            catch (NotSupportedException ex) when (security == SecureSocketOptions.StartTls)
            {
                var refusal = $"SMTP server {o.Smtp.Host}:{o.Smtp.Port} does not offer STARTTLS; email is not sent in plaintext. " +
                    "Fix the server, or set Email:Smtp:Security (SslOnConnect; None only for a loopback relay).";
                logger.LogError("Email to {To} not sent: {Problem}", message.To, refusal);
                throw new InvalidOperationException(refusal, ex);
            }
            if (!string.IsNullOrEmpty(o.Smtp.Username))
            {
                await client.AuthenticateAsync(o.Smtp.Username, o.Smtp.Password, ct);
            }
            await client.SendAsync(mime, ct);
            await client.DisconnectAsync(true, ct);
            return;
        }

        var folder = Path.GetFullPath(o.PickupDirectory);
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"{DateTime.UtcNow:yyyyMMddHHmmssfff}-{Guid.NewGuid():N}.eml");
        // Written under another name, then renamed: a reader of *.eml never sees half a message.
        await mime.WriteToAsync(file + ".partial", ct);
        File.Move(file + ".partial", file);
        if (env.IsDevelopment())
        {
            // Development only: the whole message, link included, so a local user can sign in without a mail server.
            logger.LogInformation("Email to {To} written to {File}:\n{Body}", message.To, file, message.TextBody);
        }
    }
}

/// <summary>
/// Sends email off the request path, so a sign-in request takes the same time whether or not the
/// address has an account, and a slow mail server never holds a page.
/// </summary>
public sealed class EmailQueue : BackgroundService
{
    // FullMode Wait, so TryWrite answers false when full (DropWrite answers true and drops the message,
    // which let a full queue swallow sign-in mail while the page said "sent"). Nothing ever waits: Enqueue only tries.
    private readonly Channel<EmailMessage> _channel = Channel.CreateBounded<EmailMessage>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.Wait });
    private readonly IEmailSender _sender;
    private readonly SlowCallGuard _guard;
    private readonly ILogger<EmailQueue> _logger;

    public EmailQueue(IEmailSender sender, SlowCallGuard guard, ILogger<EmailQueue> logger)
    {
        _sender = sender;
        _guard = guard;
        _logger = logger;
    }

    /// <summary>
    /// False (and an error logged) when the queue is full: the caller must tell the user, never report it sent.
    /// Refused inside a tenant unit of work: a message queued there would go out even if the work rolls back.
    /// </summary>
    public bool Enqueue(EmailMessage message)
    {
        _guard.Check("Sending email");
        if (_channel.Writer.TryWrite(message))
        {
            return true;
        }
        _logger.LogError("Email queue is full; a message was not sent");
        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var message in _channel.Reader.ReadAllAsync(stoppingToken))
        {
            for (var attempt = 1; attempt <= 3; attempt++)
            {
                try
                {
                    await _sender.SendAsync(message, stoppingToken);
                    break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning(ex, "Sending email failed (attempt {Attempt} of 3)", attempt);
                    await Task.Delay(TimeSpan.FromSeconds(attempt), stoppingToken);
                }
            }
        }
    }
}

public static class EmailServiceCollectionExtensions
{
    public static IServiceCollection AddEmail(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<EmailOptions>(configuration.GetSection(EmailOptions.Section));
        services.AddStartupCheck<EmailStartupCheck>();
        services.AddSingleton<IEmailSender, EmailSender>();
        services.AddSingleton<EmailQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<EmailQueue>());
        return services;
    }
}
