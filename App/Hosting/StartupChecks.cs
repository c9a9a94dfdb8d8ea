namespace AgentSpace.Hosting;

/// <summary>
/// A configuration the web app must not serve with. Program.cs prints its message as one line
/// (<c>error: ...</c>) on stderr and exits with 1: an operator reads what to change, not a stack trace.
/// </summary>
public sealed class StartupConfigurationException : Exception
{
    public StartupConfigurationException(string message) : base(message) { }

    public StartupConfigurationException(string message, Exception innerException) : base(message, innerException) { }

    public StartupConfigurationException() { }
}

/// <summary>A check of the configuration, run once before the app migrates or serves anything (not for admin commands).</summary>
public interface IStartupCheck
{
    /// <summary>Throws <see cref="StartupConfigurationException"/> when the app must not serve with this configuration.</summary>
    void Check();
}

public static class StartupChecks
{
    public static IServiceCollection AddStartupCheck<TCheck>(this IServiceCollection services) where TCheck : class, IStartupCheck
    {
        services.AddSingleton<IStartupCheck, TCheck>();
        return services;
    }

    /// <summary>
    /// Runs every registered check; on a refusal writes it as one line (<c>error: ...</c>) and returns false.
    /// Called before the host starts: a failure inside host start-up would be logged with its stack trace.
    /// </summary>
    public static bool PassesStartupChecks(this IHost host, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            foreach (var check in host.Services.GetServices<IStartupCheck>())
            {
                check.Check();
            }
            return true;
        }
        catch (StartupConfigurationException ex)
        {
            error.WriteLine("error: " + ex.Message.ReplaceLineEndings(" "));
            return false;
        }
    }
}
