using AgentSpace.Knowledge;
using AgentSpace.Limits;
using Microsoft.Extensions.Options;

namespace AgentSpace.Tests.Knowledge.Extraction;

public sealed class DocumentChunkerTests
{
    private static readonly TokenCounter Tokens = new();
    private static readonly DocumentChunker Chunker = new(Options.Create(new KnowledgeOptions { ChunkTokens = 80, ChunkOverlapTokens = 20 }), Tokens);

    private static string Sentences(int count, string topic) =>
        string.Join(" ", Enumerable.Range(1, count).Select(i => $"Sentence {i} about {topic} explains one more detail of the procedure."));

    [Fact]
    public void Chunk_LongSection_PassagesWithinTheSizeOverlapAndOrdinalsInOrder()
    {
        var document = new ExtractedDocument(DocumentKind.Text, [new ExtractedSection(Sentences(60, "valves"), [], null)]);

        var chunks = Chunker.Chunk(document);

        Assert.True(chunks.Count > 5);
        Assert.All(chunks, c => Assert.True(c.TokenCount <= 90, $"{c.TokenCount} tokens"));
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Ordinal));
        for (var i = 1; i < chunks.Count; i++)
        {
            // The last sentence of a passage opens the next one.
            var lastSentence = chunks[i - 1].Text[(chunks[i - 1].Text.LastIndexOf("Sentence", StringComparison.Ordinal))..];
            Assert.StartsWith(lastSentence, chunks[i].Text, StringComparison.Ordinal);
        }
        Assert.All(chunks, c => Assert.EndsWith(".", c.Text, StringComparison.Ordinal));
    }

    [Fact]
    public void Chunk_NeverSpansTwoSections_KeepsHeadingsAndPages()
    {
        var document = new ExtractedDocument(DocumentKind.Pdf, [
            new ExtractedSection("Short first page.", ["Intro"], 1),
            new ExtractedSection("Short second page.", ["Intro", "Detail"], 2),
        ]);

        var chunks = Chunker.Chunk(document);

        Assert.Equal(2, chunks.Count);
        Assert.Equal((1, "Intro"), (chunks[0].Page!.Value, chunks[0].HeadingPath));
        Assert.Equal((2, "Intro › Detail"), (chunks[1].Page!.Value, chunks[1].HeadingPath));
    }

    [Fact]
    public void Chunk_OneGiantWord_IsCutByCharacters()
    {
        var document = new ExtractedDocument(DocumentKind.Text, [new ExtractedSection(new string('x', 200_000), [], null)]);

        var chunks = Chunker.Chunk(document);

        Assert.True(chunks.Count > 10);
        Assert.All(chunks, c => Assert.True(c.TokenCount <= 80, $"{c.TokenCount} tokens"));
        Assert.Equal(200_000, chunks.Sum(c => c.Text.Length) - Overlap(chunks));
    }

    [Fact]
    public void Chunk_SameInput_SamePassages()
    {
        var document = new ExtractedDocument(DocumentKind.Text, [new ExtractedSection(Sentences(30, "pumps"), [], null)]);

        Assert.Equal(Chunker.Chunk(document), Chunker.Chunk(document));
    }

    private static int Overlap(IReadOnlyList<ChunkDraft> chunks)
    {
        var overlap = 0;
        for (var i = 1; i < chunks.Count; i++)
        {
            var previousEnd = chunks[i - 1].StartChar + chunks[i - 1].Text.Length;
            overlap += Math.Max(0, previousEnd - chunks[i].StartChar);
        }
        return overlap;
    }
}
