using System.Net;

namespace AgentSpace.Email;

public sealed class EmailOptions
{
    public const string Section = "Email";

    public string From { get; set; } = "AgentSpace <no-reply@agentspace.local>";
    /// <summary>Where messages go when no SMTP host is configured.</summary>
    public string PickupDirectory { get; set; } = ".data/mail";
    /// <summary>
    /// Outside Development the app refuses to start without an SMTP host unless this is true: the pickup
    /// folder holds live sign-in links in plain files.
    /// </summary>
    public bool AllowPickupDirectory { get; set; }
    public SmtpOptions Smtp { get; set; } = new();
}

/// <summary>How the connection to the SMTP server is protected.</summary>
public enum SmtpSecurity
{
    /// <summary>STARTTLS is required: a server (or a man in the middle) that does not offer it gets no mail.</summary>
    StartTls,
    /// <summary>TLS from the first byte (usually port 465).</summary>
    SslOnConnect,
    /// <summary>Plaintext; accepted only for a loopback host (127.0.0.0/8, ::1, localhost), such as a local relay or test server.</summary>
    None,
}

public sealed class SmtpOptions
{
    public string Host { get; set; } = "";
    public int Port { get; set; } = 587;
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    /// <summary>Unset: <see cref="SmtpSecurity.SslOnConnect"/> on port 465, otherwise <see cref="SmtpSecurity.StartTls"/>. TLS is never optional.</summary>
    public SmtpSecurity? Security { get; set; }

    public SmtpSecurity EffectiveSecurity => Security ?? (Port == 465 ? SmtpSecurity.SslOnConnect : SmtpSecurity.StartTls);

    /// <summary>
    /// Why this configuration must not be used, or null. Plaintext is accepted only when the host is written
    /// as a loopback address or <c>localhost</c>: a name is never resolved to decide, since DNS can point it anywhere.
    /// </summary>
    public string? Problem() =>
        EffectiveSecurity == SmtpSecurity.None && !IsLoopback(Host)
            ? $"Email:Smtp:Security is None (plaintext) but Email:Smtp:Host '{Host}' is not a loopback address; sign-in links would cross the network unencrypted. Use StartTls or SslOnConnect."
            : null;

    internal static bool IsLoopback(string host)
    {
        var h = host.Trim();
        if (string.Equals(h, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (h.StartsWith('[') && h.EndsWith(']'))
        {
            h = h[1..^1];
        }
        return IPAddress.TryParse(h, out var address)
            && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
    }
}

/// <summary>An email; <paramref name="MessageId"/> (without angle brackets), when set, lets a receiver tell a redelivery from a new message.</summary>
public sealed record EmailMessage(string To, string Subject, string TextBody, string HtmlBody, string? MessageId = null);
