using AgentSpace.Hosting;
using Microsoft.Extensions.Options;

namespace AgentSpace.Email;

/// <summary>Refuses to serve with mail settings that would expose sign-in links.</summary>
public sealed class EmailStartupCheck(IOptions<EmailOptions> options, IHostEnvironment env, IConfiguration configuration) : IStartupCheck
{
    public void Check()
    {
        if (configuration[$"{EmailOptions.Section}:Smtp:UseStartTls"] is not null)
        {
            // Ignoring it would silently turn "UseStartTls=false" (a plaintext relay) into mail that never leaves.
            throw new StartupConfigurationException(
                "Email:Smtp:UseStartTls is no longer read: TLS is now required. Remove it; for a plaintext relay on loopback set Email:Smtp:Security=None.");
        }
        EmailOptions o;
        try
        {
            o = options.Value;
        }
        catch (InvalidOperationException ex)
        {
            // A value the binder cannot convert, e.g. Email:Smtp:Security=Plain.
            throw new StartupConfigurationException("Email settings: " + ex.Message, ex);
        }
        if (string.IsNullOrWhiteSpace(o.Smtp.Host))
        {
            if (!env.IsDevelopment() && !o.AllowPickupDirectory)
            {
                throw new StartupConfigurationException(
                    $"Email:Smtp:Host is not set, so live sign-in links would be written to files in '{Path.GetFullPath(o.PickupDirectory)}'. " +
                    "Set Email:Smtp:Host, or set Email:AllowPickupDirectory=true to accept that outside Development.");
            }
            return;
        }
        if (o.Smtp.Problem() is { } problem)
        {
            throw new StartupConfigurationException(problem);
        }
    }
}
