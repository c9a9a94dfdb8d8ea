using AgentSpace.Tenancy;
using AgentSpace.Tenancy.Components;
using AgentSpace.Tests.Components;
using Bunit;

namespace AgentSpace.Tests.Tenancy;

public sealed class TenancyComponentsTests : ComponentTestBase
{
    [Fact]
    public void RoleChip_ShowsRoleName()
    {
        var cut = Render<RoleChip>(p => p.Add(x => x.Role, OrgRole.Admin));
        Assert.Contains("Admin", cut.Markup, StringComparison.Ordinal);
    }
}
