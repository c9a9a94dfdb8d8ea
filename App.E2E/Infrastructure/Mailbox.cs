using System.Text.RegularExpressions;
using MimeKit;

namespace AgentSpace.E2E.Infrastructure;

public sealed record ReceivedEmail(string To, string Subject, string Text, string File);

/// <summary>The pickup folder the app writes .eml files to when no SMTP host is configured: the test's inbox.</summary>
public sealed partial class Mailbox(string folder)
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(15);

    // A file this fresh may still be being written.
    private static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(150);

    // Messages already handed out: their links are single-use, so a later wait (the same user signing in
    // again, in a second browser) must get the new message, not an older one still lying in the folder.
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public string Folder { get; } = folder;

    /// <summary>
    /// Waits for the newest message to <paramref name="to"/> whose subject contains <paramref name="subjectContains"/>
    /// and that no earlier call returned (each message is read once, as in an inbox).
    /// Mail is sent off the request path, so it lands a moment after the page says it was sent.
    /// </summary>
    public async Task<ReceivedEmail> WaitForAsync(string to, string subjectContains)
    {
        var deadline = DateTime.UtcNow + WaitTimeout;
        while (true)
        {
            var found = Directory.Exists(Folder)
                ? new DirectoryInfo(Folder).GetFiles("*.eml")
                    .Where(f => f.LastWriteTimeUtc < DateTime.UtcNow - SettleTime && !IsRead(f.FullName))
                    .OrderByDescending(f => f.Name, StringComparer.Ordinal)
                    .Select(f => Load(f.FullName))
                    .FirstOrDefault(m => m is not null
                        && string.Equals(m.To, to, StringComparison.OrdinalIgnoreCase)
                        && m.Subject.Contains(subjectContains, StringComparison.OrdinalIgnoreCase))
                : null;
            if (found is not null)
            {
                lock (_read)
                {
                    _read.Add(found.File);
                }
                return found;
            }
            if (DateTime.UtcNow > deadline)
            {
                var names = Directory.Exists(Folder) ? string.Join(", ", Directory.GetFiles(Folder).Select(Path.GetFileName)) : "(no folder)";
                throw new TimeoutException($"No email to {to} with subject containing '{subjectContains}' in {Folder} within {WaitTimeout.TotalSeconds:F0} s. Files: {names}");
            }
            await Task.Delay(200);
        }
    }

    private bool IsRead(string path)
    {
        lock (_read)
        {
            return _read.Contains(path);
        }
    }

    /// <summary>The first link in the text body that starts with <paramref name="prefix"/> (an absolute URL).</summary>
    public static Uri LinkStartingWith(ReceivedEmail email, string prefix)
    {
        ArgumentNullException.ThrowIfNull(email);
        var match = UrlPattern().Matches(email.Text).FirstOrDefault(m => m.Value.StartsWith(prefix, StringComparison.Ordinal));
        return match is not null
            ? new Uri(match.Value)
            : throw new InvalidOperationException($"No link starting with {prefix} in the email '{email.Subject}' ({email.File}):\n{email.Text}");
    }

    private static ReceivedEmail? Load(string path)
    {
        try
        {
            using var message = MimeMessage.Load(path);
            var to = message.To.Mailboxes.FirstOrDefault()?.Address ?? "";
            return new ReceivedEmail(to, message.Subject ?? "", message.TextBody ?? "", path);
        }
        catch (Exception ex) when (ex is IOException or FormatException)
        {
            // Still being written; the next poll reads it whole.
            return null;
        }
    }

    [GeneratedRegex(@"https?://[^\s<>""]+")]
    private static partial Regex UrlPattern();
}
