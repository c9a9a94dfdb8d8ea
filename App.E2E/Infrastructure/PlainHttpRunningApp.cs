namespace AgentSpace.E2E.Infrastructure;

/// <summary>
/// <see cref="RunningApp"/> served the way <c>./run.sh</c> serves it for local development: plain
/// http://127.0.0.1:&lt;port&gt;, no certificate.
/// </summary>
public sealed class PlainHttpRunningApp : RunningApp
{
    protected override bool UseHttps => false;
}
