namespace AgentSpace.Admin;

/// <summary>
/// An operator command a feature contributes (<c>App &lt;name&gt; ...</c>), registered by the feature's own
/// <c>Add&lt;Feature&gt;()</c>. <see cref="AdminCommands"/> only dispatches and prints usage.
/// </summary>
/// <param name="Name">The words that select it, e.g. "tenant create".</param>
/// <param name="Synopsis">Arguments after the name, e.g. "&lt;slug&gt; --owner &lt;email&gt;".</param>
/// <param name="Summary">One line for the command list.</param>
/// <param name="Help">The full text <c>--help</c> prints after the usage line.</param>
/// <param name="RunAsync">Returns the exit code: 0 done, 1 failed, 2 bad usage.</param>
public sealed record AdminCommand(string Name, string Synopsis, string Summary, string Help, Func<AdminInvocation, Task<int>> RunAsync)
{
    public string Usage => $"Usage: App {Name}{(Synopsis.Length == 0 ? "" : " " + Synopsis)}";
}

/// <summary>One run of a command: its arguments after the name, the services, and where to write.</summary>
public sealed class AdminInvocation(IReadOnlyList<string> args, IServiceProvider services, TextWriter output, TextWriter error, CancellationToken cancellation)
{
    public IReadOnlyList<string> Args { get; } = args;
    public IServiceProvider Services { get; } = services;
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>The argument right after the command's name, unless it is an option (positionals come first).</summary>
    public string? Subject => Args.Count > 0 && !Args[0].StartsWith('-') ? Args[0] : null;

    public string? Option(string name)
    {
        for (var i = 0; i < Args.Count - 1; i++)
        {
            if (Args[i] == name)
            {
                return Args[i + 1];
            }
        }
        return null;
    }

    public bool Has(string flag) => Args.Contains(flag);

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Prints the problem and the hint to --help; exit code 2.</summary>
    public async Task<int> UsageErrorAsync(string message)
    {
        await Error.WriteLineAsync("error: " + message);
        await Error.WriteLineAsync("Run 'App --help' for usage.");
        return 2;
    }

    public async Task<int> FailAsync(string message)
    {
        await Error.WriteLineAsync("error: " + message);
        return 1;
    }
}

public static class AdminCommandServiceCollectionExtensions
{
    public static IServiceCollection AddAdminCommand(this IServiceCollection services, AdminCommand command) =>
        services.AddSingleton(command);
}
