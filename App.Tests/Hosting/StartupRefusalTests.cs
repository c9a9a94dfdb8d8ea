using System.Net;

namespace AgentSpace.Tests.Hosting;

/// <summary>
/// What an operator sees when the configuration is unsafe: the app refuses to start, with one line on
/// stderr and exit code 1, never a stack trace. Runs the built App.dll as a process.
/// </summary>
public sealed class StartupRefusalTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    private static Dictionary<string, string> Production(params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            // Nothing here needs the database: a closed port proves it.
            ["ConnectionStrings__Default"] = $"Host=127.0.0.1;Port={AppDll.FreePort()};Database=none;Username=none;Password=none",
            ["App__PublicBaseUrl"] = "https://agentspace.example",
            ["Email__Smtp__Host"] = "",
            ["Vault__MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }
        return environment;
    }

    private static async Task<(int Code, string Error, string Output)> RunUntilExitAsync(Dictionary<string, string> environment)
    {
        await using var app = AppDll.Start(environment);
        Assert.True(await app.WaitForExitAsync(ExitTimeout), $"The app did not refuse to start; it is still running.\n{app.StandardOutput}\n{app.StandardError}");
        return (app.ExitCode, app.StandardError, app.StandardOutput);
    }

    private static void AssertOneLineRefusal((int Code, string Error, string Output) result, string mentions)
    {
        Assert.Equal(1, result.Code);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(mentions, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ProductionWithoutSmtpHost_RefusesInOneLine()
    {
        var result = await RunUntilExitAsync(Production());

        AssertOneLineRefusal(result, "Email:AllowPickupDirectory");
    }

    [Fact]
    public async Task Start_WithoutConnectionString_RefusesInOneLine()
    {
        var result = await RunUntilExitAsync(Production(("ConnectionStrings__Default", " "), ("Email__AllowPickupDirectory", "true")));

        AssertOneLineRefusal(result, "ConnectionStrings:Default");
    }

    [Fact]
    public async Task Start_PlaintextSmtpToNonLoopbackHost_RefusesInOneLine()
    {
        var result = await RunUntilExitAsync(Production(("Email__Smtp__Host", "mail.example.com"), ("Email__Smtp__Security", "None")));

        AssertOneLineRefusal(result, "Email:Smtp:Security");
    }

    [Fact]
    public async Task Start_ObsoleteUseStartTlsSetting_RefusesInOneLine()
    {
        // Silently ignoring it would turn "UseStartTls=false" (a local relay) into a mail outage nobody understands.
        var result = await RunUntilExitAsync(Production(("Email__Smtp__Host", "127.0.0.1"), ("Email__Smtp__UseStartTls", "false")));

        AssertOneLineRefusal(result, "Email:Smtp:Security");
    }

    [Fact]
    public async Task Start_ProductionWithPickupFolderExplicitlyAllowed_Serves()
    {
        var mail = Path.Combine(Path.GetTempPath(), "agentspace-refusal-mail-" + Guid.NewGuid().ToString("N"));
        await using var app = AppDll.Start(Production(("Email__AllowPickupDirectory", "true"), ("Email__PickupDirectory", mail)));

        using var response = await app.GetWhenListeningAsync("/health/live", ExitTimeout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
