using AgentSpace.Tests.Chat;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Workflows;
using Microsoft.EntityFrameworkCore;

namespace AgentSpace.Tests.Workflows;

/// <summary>
/// Workflows with the scheduler on (one node of a cluster of one, on this fixture's database), the app's cost guard,
/// the recording model server behind agents, and <see cref="Sink"/> as the one HTTP receiver on loopback.
/// </summary>
public class WorkflowFixture : ChatFixture
{
    private EffectSink? _sink;

    protected override bool UseAppCostGuard => true;

    /// <summary>Quartz fires on the app's TimeProvider: here the wall clock.</summary>
    protected override bool UsesFakeClock => false;

    public EffectSink Sink => _sink ?? throw new InvalidOperationException("Not initialized");

    protected override IDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["Workflows:Scheduler:Enabled"] = "true",
        ["Workflows:Scheduler:CheckinInterval"] = "00:00:02",
        ["Workflows:Scheduler:CheckinMisfireThreshold"] = "00:00:06",
        ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.1/32",
        ["Limits:SlowDelay"] = "00:00:00.010",
    };

    public WorkflowService Workflows => Get<WorkflowService>();

    public override async Task InitializeAsync()
    {
        _sink = await EffectSink.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_sink is not null)
        {
            await _sink.DisposeAsync();
        }
    }

    /// <summary>Waits until the run has ended and returns it with its steps.</summary>
    public async Task<RunDetail> WaitForRunAsync(TestOrg org, Guid runId, TimeSpan? limit = null)
    {
        ArgumentNullException.ThrowIfNull(org);
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var detail = await Workflows.RunAsync(org.Member, org.Org.Slug, runId, default);
            if (RunStatus.IsFinal(detail.Run.Status))
            {
                return detail;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Run {runId} is still {detail.Run.Status}.");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>The sink's host allowed for the organization's HTTP steps, by its Owner.</summary>
    public Task AllowSinkAsync(TestOrg org) => Workflows.AllowHostAsync(org.Owner, org.Org.Slug, new Uri(Sink.BaseUrl).Host, default);

    public Task<int> OutboxCountAsync(TestOrg org, Guid runId) =>
        InTenantAsync(org.Org, db => db.Outbox.CountAsync(m => m.RunId == runId));
}
