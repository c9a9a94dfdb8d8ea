using System.Security.Claims;
using AgentSpace.Identity;
using AgentSpace.Tests.Components;
using Bunit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentSpace.Tests.Infrastructure;

/// <summary>
/// Pages rendered with bUnit over the app's real feature registrations (<see cref="AppFeatures"/>) and the
/// <see cref="AppServices"/> fixture's database, signed in as one user.
/// </summary>
public abstract class PageTestBase(AppServices data) : ComponentTestBase
{
    protected AppServices Data { get; } = data;

    /// <summary>Registers the app's services and signs the page in as <paramref name="actor"/>.</summary>
    protected void SignInAs(Actor actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Services.AddSingleton(Data.Configuration);
        Services.AddSingleton(Data.Services.GetRequiredService<IHostEnvironment>());
        Services.AddLogging();
        Services.AddAppFeatures(Data.Configuration);
        var auth = AddAuthorization();
        auth.SetAuthorized(actor.Email);
        auth.SetClaims(
            new Claim(ClaimTypes.NameIdentifier, actor.UserId.ToString()),
            new Claim(ClaimTypes.Email, actor.Email),
            new Claim(SessionService.SessionClaim, Guid.NewGuid().ToString()));
    }
}
