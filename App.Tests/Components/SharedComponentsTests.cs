using AgentSpace.Components;
using Bunit;
using Microsoft.AspNetCore.Components;

namespace AgentSpace.Tests.Components;

public sealed class SharedComponentsTests : ComponentTestBase
{
    [Fact]
    public void OrgPageStatus_NotFound_ShowsNotFoundStateAndHidesContent()
    {
        var cut = Render<OrgPageStatus>(p => p
            .Add(x => x.NotFound, true)
            .Add(x => x.ChildContent, (RenderFragment)(b => b.AddMarkupContent(0, "<p id=secret>org data</p>"))));
        Assert.Contains("Organization not found", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("#secret"));
        Assert.Equal("/orgs", cut.Find("a").GetAttribute("href"));
    }

    [Fact]
    public void OrgPageStatus_Error_ShowsMessageNotContent()
    {
        var cut = Render<OrgPageStatus>(p => p
            .Add(x => x.Error, "This needs the Admin role or higher.")
            .Add(x => x.ChildContent, (RenderFragment)(b => b.AddMarkupContent(0, "<p id=secret>org data</p>"))));
        Assert.Contains("This needs the Admin role or higher.", cut.Markup, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("#secret"));
    }

    [Fact]
    public void OrgPageStatus_Ready_ShowsContent()
    {
        var cut = Render<OrgPageStatus>(p => p
            .Add(x => x.ChildContent, (RenderFragment)(b => b.AddMarkupContent(0, "<p id=content>org data</p>"))));
        Assert.Single(cut.FindAll("#content"));
    }

    [Fact]
    public void EmptyState_AsHeading_RendersTitleAsH1()
    {
        var cut = Render<EmptyState>(p => p.Add(x => x.Title, "No organizations yet").Add(x => x.Heading, true).Add(x => x.Text, "Create one"));
        Assert.Equal("No organizations yet", cut.Find("h1").TextContent.Trim());
        Assert.Contains("Create one", cut.Markup, StringComparison.Ordinal);
        Assert.Equal("status", cut.Find("div.app-empty-state").GetAttribute("role"));
    }
}
