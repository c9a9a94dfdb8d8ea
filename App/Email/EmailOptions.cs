namespace AgentSpace.Email;

public sealed class EmailOptions
{
    public const string Section = "Email";

    public string From { get; set; } = "AgentSpace <no-reply@agentspace.local>";
    /// <summary>Where messages go when no SMTP host is configured.</summary>
    public string PickupDirectory { get; set; } = ".data/mail";
    public SmtpOptions Smtp { get; set; } = new();
}

public sealed class SmtpOptions
{
    public string Host { get; set; } = "";
    public int Port { get; set; } = 587;
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    /// <summary>STARTTLS when offered (required on port 587 in production); off for a loopback test server.</summary>
    public bool UseStartTls { get; set; } = true;
}

public sealed record EmailMessage(string To, string Subject, string TextBody, string HtmlBody);
