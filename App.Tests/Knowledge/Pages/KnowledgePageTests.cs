using System.Text;
using AgentSpace.Knowledge;
using AgentSpace.Knowledge.Pages;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Infrastructure;
using AgentSpace.Tests.Knowledge.Ingest;
using Bunit;

namespace AgentSpace.Tests.Knowledge.Pages;

/// <summary>The Knowledge page as each role sees it.</summary>
public sealed class KnowledgePageTests(KnowledgeIngestFixture data) : PageTestBase(data), IClassFixture<KnowledgeIngestFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Page_NoDocuments_MemberSeesTheUploadAreaAndAnEmptyState()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Member);
        SignInAs(org.Member);

        var cut = Render<KnowledgeIndex>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("No documents yet.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Contains("Drop files here", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("up to 256 KB each", cut.Markup, StringComparison.Ordinal);
        Assert.NotEmpty(cut.FindAll("input[type=file]"));
    }

    [Fact]
    public async Task Page_AsViewer_ListsReadyAndFailedDocumentsWithTheReason_AndOffersNoUpload()
    {
        var org = await data.OrgWithMemberAsync(OrgRole.Viewer);
        await data.UploadAsync(org.Owner, org.Org, "handbook.md", Encoding.UTF8.GetBytes("# Travel\n\nFlights are booked through the travel desk."));
        await data.UploadAsync(org.Owner, org.Org, "photo.txt", [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10]);
        await data.ProcessAsync(org.Org);
        SignInAs(org.Member);

        var cut = Render<KnowledgeIndex>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("handbook.md", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Contains("Ready", cut.Find("[data-testid='status-handbook.md']").TextContent, StringComparison.Ordinal);
        var failed = cut.Find("[data-testid='status-photo.txt']").TextContent;
        Assert.Contains("Failed", failed, StringComparison.Ordinal);
        Assert.Contains("This is a PNG image, not a document.", failed, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("input[type=file]"));
        Assert.DoesNotContain("Attach handbook.md to agents", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Delete handbook.md", cut.Markup, StringComparison.Ordinal);
    }
}
