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
    /// Runs every registered check. Called before the host starts: a failure inside host start-up is logged
    /// with its stack trace before it reaches Program.cs.
    /// </summary>
    public static void RunStartupChecks(this IHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        foreach (var check in host.Services.GetServices<IStartupCheck>())
        {
            check.Check();
        }
    }
}
