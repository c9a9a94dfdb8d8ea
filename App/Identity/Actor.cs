namespace AgentSpace.Identity;

/// <summary>Who is asking: the signed-in user and the address the request came from.</summary>
public sealed record Actor(Guid UserId, string Email, string? Ip);
