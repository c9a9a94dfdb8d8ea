namespace AgentSpace.Identity;

/// <summary>Who is asking: the signed-in user and the address the request came from.</summary>
public sealed record Actor(Guid UserId, string Email, string? Ip)
{
    /// <summary>
    /// Lets a minimal API take an <see cref="Actor"/> parameter, bound from the signed-in user and the
    /// client address. An anonymous request fails binding, so such endpoints also require authorization.
    /// </summary>
    public static ValueTask<Actor?> BindAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        return ValueTask.FromResult(SessionService.ActorOf(http.User, AuthEndpoints.ClientIp(http)));
    }
}
