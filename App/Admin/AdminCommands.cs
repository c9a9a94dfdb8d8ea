using System.Text;
using AgentSpace.Data;

namespace AgentSpace.Admin;

/// <summary>
/// Runs the operator command named on the command line (<c>dotnet run --project App -- tenant list</c>).
/// The commands themselves are contributed by the features (<see cref="AdminCommand"/>).
/// Exit codes: 0 done, 1 failed (one line on stderr, never a stack trace), 2 bad usage, 130 cancelled (Ctrl+C).
/// </summary>
public static class AdminCommands
{
    /// <summary>Web-host arguments are all options (<c>--urls ...</c>); a first word that is not one names a command.</summary>
    public static bool IsAdminCommand(string[] args) =>
        args is [var first, ..] && (!first.StartsWith('-') || first is "--help" or "-h");

    /// <summary>The arguments the web host should see: none when a command runs.</summary>
    public static string[] HostArguments(string[] args) => IsAdminCommand(args) ? [] : args;

    /// <summary>Commands report database errors themselves, in one line; EF Core's own error log would repeat them.</summary>
    public static ILoggingBuilder AddAdminCommandLogging(this ILoggingBuilder logging, string[] args) =>
        IsAdminCommand(args) ? logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.None) : logging;

    /// <summary>Runs the command and returns its exit code.</summary>
    public static Task<int> RunAdminCommandAsync(this WebApplication app, string[] args)
    {
        ArgumentNullException.ThrowIfNull(app);
        return RunAsync(args, app.Services, Console.Out, Console.Error);
    }

    public static async Task<int> RunAsync(string[] args, IServiceProvider services, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var commands = services.GetServices<AdminCommand>().ToList();
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            await output.WriteLineAsync(Usage(commands));
            return 0;
        }
        // The longest name that the arguments start with: "tenant create" before a plain "tenant".
        var command = commands
            .Select(c => (Command: c, Words: c.Name.Split(' ')))
            .Where(c => c.Words.Length <= args.Length && c.Words.SequenceEqual(args.Take(c.Words.Length), StringComparer.Ordinal))
            .OrderByDescending(c => c.Words.Length)
            .FirstOrDefault();
        if (command.Command is null)
        {
            await error.WriteLineAsync($"error: Unknown command: {string.Join(' ', args.Take(2))}");
            await error.WriteLineAsync("Run 'App --help' for usage.");
            return 2;
        }
        var rest = args[command.Words.Length..];
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            await output.WriteLineAsync(command.Command.Usage + (command.Command.Help.Length == 0 ? "" : "\n\n" + command.Command.Help));
            return 0;
        }

        await using var scope = services.CreateAsyncScope();
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await command.Command.RunAsync(new AdminInvocation(rest, scope.ServiceProvider, output, error, cts.Token));
        }
        catch (Tenancy.OrgRuleException ex)
        {
            await error.WriteLineAsync("error: " + ex.Message);
            return 1;
        }
        catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.UndefinedTable && command.Command.Name != DataAdminCommands.Migrate)
        {
            await error.WriteLineAsync("error: the database has not been migrated yet. Run: App migrate");
            return 1;
        }
        catch (Npgsql.NpgsqlException ex)
        {
            await error.WriteLineAsync("error: database: " + OneLine(ex));
            return 1;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            await error.WriteLineAsync("error: cancelled");
            return 130;
        }
        catch (Exception ex)
        {
            // Whatever failed, the operator gets one line, never a stack trace.
            await error.WriteLineAsync("error: " + OneLine(ex));
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>The message as one line; wrappers that only say "see the inner exception" give way to the inner one.</summary>
    private static string OneLine(Exception ex)
    {
        var shown = ex;
        while (shown.InnerException is not null && shown.Message.Contains("inner exception", StringComparison.OrdinalIgnoreCase))
        {
            shown = shown.InnerException;
        }
        return shown.Message.ReplaceLineEndings(" ");
    }

    private static string Usage(IEnumerable<AdminCommand> commands)
    {
        var sb = new StringBuilder("Usage: App <command> [options]\n\nCommands:\n");
        foreach (var c in commands.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var synopsis = $"{c.Name} {c.Synopsis}".TrimEnd();
            sb.Append("  ").Append(synopsis.PadRight(38)).Append(synopsis.Length >= 38 ? "\n  " + new string(' ', 38) : "").Append(c.Summary).Append('\n');
        }
        sb.Append("\nAdd --help to any command for its details. Exit codes: 0 success, 1 failure, 2 usage error, 130 cancelled.");
        return sb.ToString();
    }
}
