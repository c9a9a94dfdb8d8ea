using AgentSpace.Admin;

namespace AgentSpace.Vault;

/// <summary><c>App keys rotate</c>.</summary>
internal static class VaultAdminCommands
{
    public const string RotateHelp = """
        Re-wraps every organization's data key that is not under the current master key (Vault:MasterKey or
        Vault:MasterKeyFile) under the current one, each in its own short transaction. Secrets themselves are
        not re-encrypted. Safe to run again: keys already under the current master key are left alone.
        Exit codes: 0 every key is under the current master key, 1 some key could not be re-wrapped, 2 bad usage.

        Rotating the master key with no downtime:
          1. Generate a new key: openssl rand -base64 32
          2. On every node, make the new key current (Vault:MasterKey or Vault:MasterKeyFile) and move the old
             one to Vault:RetiredMasterKeys (or Vault:RetiredMasterKeyFiles); restart the nodes one by one.
             Old data keys stay readable through the retired key; new ones are wrapped under the new key.
          3. Run: App keys rotate   (once every node runs with the new key; run it again if it was stopped)
          4. When it reports 0 failed, remove the retired key from every node's configuration and destroy it.
        """;

    public static IServiceCollection AddVaultAdminCommands(this IServiceCollection services) => services
        .AddAdminCommand(new AdminCommand("keys rotate", "", "Re-wrap every organization's data key under the current master key.",
            RotateHelp, RotateAsync));

    private static async Task<int> RotateAsync(AdminInvocation run)
    {
        if (run.Args.Count > 0)
        {
            return await run.UsageErrorAsync($"keys rotate takes no arguments (got '{run.Args[0]}').");
        }
        var result = await run.Get<MasterKeyRotation>().RotateAsync(run.Output, run.Cancellation);
        await run.Output.WriteLineAsync(
            $"Done: {result.Rewrapped} re-wrapped, {result.AlreadyCurrent} already under master key {result.CurrentMasterKeyId}, {result.Failed} failed.");
        if (result.Failed > 0)
        {
            return await run.FailAsync($"{result.Failed} data key(s) could not be re-wrapped; keep the retired master keys configured, fix the cause and run 'keys rotate' again.");
        }
        await run.Output.WriteLineAsync("Every data key is under the current master key; retired master keys may now be removed from every node.");
        return 0;
    }
}
