using AgentSpace.Audit;
using AgentSpace.Audit.Components;
using AgentSpace.Tests.Components;
using Bunit;

namespace AgentSpace.Tests.Audit;

public sealed class AuditComponentsTests : ComponentTestBase
{
    [Theory]
    [InlineData(AuditOutcome.Success, "mud-chip-color-success")]
    [InlineData(AuditOutcome.Denied, "mud-chip-color-warning")]
    [InlineData(AuditOutcome.Failure, "mud-chip-color-error")]
    public void AuditOutcomeChip_ColorsByOutcome(string outcome, string cssClass)
    {
        var cut = Render<AuditOutcomeChip>(p => p.Add(x => x.Outcome, outcome));
        Assert.Contains(cssClass, cut.Markup, StringComparison.Ordinal);
        Assert.Contains(outcome, cut.Markup, StringComparison.Ordinal);
    }
}
