using Microsoft.AspNetCore.DataProtection;

namespace AgentSpace.Hosting;

/// <summary>
/// Keys that protect cookies and antiforgery tokens. Kept in <c>DataProtection:KeysDirectory</c> when set
/// (a volume in containers, so a restart does not sign everyone out); otherwise in the user profile.
/// </summary>
public static class DataProtectionSetup
{
    public static IServiceCollection AddAppDataProtection(this IServiceCollection services, IConfiguration configuration)
    {
        var builder = services.AddDataProtection().SetApplicationName("AgentSpace");
        var directory = configuration["DataProtection:KeysDirectory"];
        if (!string.IsNullOrWhiteSpace(directory))
        {
            builder.PersistKeysToFileSystem(new DirectoryInfo(directory));
        }
        return services;
    }
}
