using AgentSpace.Limits;
using Microsoft.Extensions.Options;

namespace AgentSpace.Knowledge;

/// <summary>A passage ready to store: its text, size, and where it came from.</summary>
public sealed record ChunkDraft(int Ordinal, string Text, int TokenCount, int? Page, string HeadingPath, int StartChar);

/// <summary>
/// Splits a document into token-sized passages with overlap. A passage never spans two sections (so never two
/// headings or two PDF pages), breaks at sentence and line ends, splits an over-long sentence at word boundaries and
/// an over-long word by characters. Linear in the text's length; the same input always gives the same passages.
/// </summary>
public sealed class DocumentChunker(IOptions<KnowledgeOptions> options, TokenCounter tokens)
{
    public const string HeadingSeparator = " › ";

    public IReadOnlyList<ChunkDraft> Chunk(ExtractedDocument document, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        var size = options.Value.ChunkTokens;
        var overlap = options.Value.ChunkOverlapTokens;
        var chunks = new List<ChunkDraft>();
        foreach (var section in document.Sections)
        {
            ct.ThrowIfCancellationRequested();
            var heading = string.Join(HeadingSeparator, section.HeadingPath);
            var units = Units(section.Text, size, ct);
            var start = 0;
            while (start < units.Count)
            {
                var end = start;
                var total = 0;
                while (end < units.Count && (end == start || total + units[end].Tokens <= size))
                {
                    total += units[end].Tokens;
                    end++;
                }
                var first = units[start];
                var last = units[end - 1];
                var text = section.Text[first.Start..(last.Start + last.Length)].Trim();
                if (text.Length > 0)
                {
                    chunks.Add(new ChunkDraft(chunks.Count, text, tokens.Count(text), section.Page, heading, first.Start));
                }
                if (end >= units.Count)
                {
                    break;
                }
                // The next passage starts with the last units of this one, up to the overlap, but always moves forward.
                var next = end;
                var carried = 0;
                while (next - 1 > start && carried + units[next - 1].Tokens <= overlap)
                {
                    next--;
                    carried += units[next].Tokens;
                }
                start = next;
            }
        }
        return chunks;
    }

    private readonly record struct Unit(int Start, int Length, int Tokens);

    /// <summary>Sentences (or lines), each at most <paramref name="size"/> tokens: longer ones are cut at spaces, then by characters.</summary>
    private List<Unit> Units(string text, int size, CancellationToken ct)
    {
        var units = new List<Unit>();
        var i = 0;
        while (i < text.Length)
        {
            if ((units.Count & 1023) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
            var end = SentenceEnd(text, i);
            var length = end - i;
            if (length > 0 && !text.AsSpan(i, length).IsWhiteSpace())
            {
                Add(i, length);
            }
            i = end;
        }
        return units;

        void Add(int start, int length)
        {
            // A sentence far longer than a passage cannot fit in one: skip counting it whole (a megabyte "sentence" would
            // be tokenized again and again otherwise).
            var count = length > size * 16 ? int.MaxValue : tokens.Count(text.Substring(start, length));
            if (count <= size)
            {
                units.Add(new Unit(start, length, count));
                return;
            }
            // Cut at the last space before roughly a passage's worth of characters; with no space, at that many characters.
            var budget = Math.Max(16, size * 3);
            var position = start;
            var stop = start + length;
            while (position < stop)
            {
                var take = Math.Min(budget, stop - position);
                if (position + take < stop)
                {
                    var space = text.LastIndexOf(' ', position + take - 1, take);
                    if (space > position)
                    {
                        take = space - position + 1;
                    }
                }
                var piece = text.Substring(position, take);
                var pieceTokens = tokens.Count(piece);
                while (pieceTokens > size && take > 1)
                {
                    take /= 2;
                    piece = text.Substring(position, take);
                    pieceTokens = tokens.Count(piece);
                }
                units.Add(new Unit(position, take, pieceTokens));
                position += take;
            }
        }
    }

    /// <summary>The end of the sentence starting at <paramref name="start"/>: after ". ", "! ", "? " or a line break (with its spaces).</summary>
    private static int SentenceEnd(string text, int start)
    {
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n' || ((c is '.' or '!' or '?' or '。') && (i + 1 == text.Length || char.IsWhiteSpace(text[i + 1]))))
            {
                var end = i + 1;
                while (end < text.Length && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
                return end;
            }
        }
        return text.Length;
    }
}
