using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.Options;

namespace AgentSpace.Identity;

/// <summary>
/// Re-checks an open circuit's session every few seconds (the template's 30 minutes is far too long):
/// sign-out-everywhere and suspension end the circuit's access within <see cref="SignInOptions.SessionRevalidationSeconds"/>.
/// </summary>
public sealed class SessionRevalidatingAuthenticationStateProvider(
    ILoggerFactory loggerFactory,
    IServiceScopeFactory scopeFactory,
    CircuitActivity activity,
    IOptions<SignInOptions> options)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(Math.Clamp(options.Value.SessionRevalidationSeconds, 1, 30));

    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var sessions = scope.ServiceProvider.GetRequiredService<SessionService>();
        // Only what the user did in the circuit counts as use: a tab left open is idle, and ends at the idle limit.
        return await sessions.IsActiveAsync(authenticationState.User, recordUse: activity.TakeActivity(), cancellationToken);
    }
}

/// <summary>Notes that the user did something in this circuit (an event, a navigation, a JS call) since the last session check.</summary>
public sealed class CircuitActivity : CircuitHandler
{
    private int _active;

    /// <summary>True when there was activity since the previous call.</summary>
    public bool TakeActivity() => Interlocked.Exchange(ref _active, 0) == 1;

    public override Func<CircuitInboundActivityContext, Task> CreateInboundActivityHandler(Func<CircuitInboundActivityContext, Task> next) =>
        context =>
        {
            Volatile.Write(ref _active, 1);
            return next(context);
        };
}

/// <summary>The caller's address inside a circuit, handed over from the first HTTP request (a protected root-component parameter).</summary>
public sealed class CircuitRequestInfo
{
    public string? Ip { get; set; }
}

/// <summary>Resolves the signed-in <see cref="Actor"/> for components.</summary>
public sealed class ActorAccessor(AuthenticationStateProvider auth, CircuitRequestInfo request)
{
    public async Task<Actor> GetAsync()
    {
        var state = await auth.GetAuthenticationStateAsync();
        return SessionService.ActorOf(state.User, request.Ip) ?? throw new UnauthorizedAccessException("Not signed in.");
    }

    public async Task<ClaimsPrincipal> GetUserAsync() => (await auth.GetAuthenticationStateAsync()).User;
}
