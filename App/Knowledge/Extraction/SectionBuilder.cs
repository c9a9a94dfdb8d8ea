using System.Text;

namespace AgentSpace.Knowledge;

/// <summary>Collects text under the current heading path; a new heading closes the section before it.</summary>
internal sealed class SectionBuilder
{
    private readonly List<ExtractedSection> _sections = [];
    private readonly List<(int Level, string Text)> _headings = [];
    private readonly StringBuilder _text = new();

    public void Heading(int level, string text)
    {
        Flush();
        _headings.RemoveAll(h => h.Level >= level);
        _headings.Add((level, Collapse(text)));
    }

    public void Line(string text)
    {
        _text.Append(text).Append('\n');
    }

    public IReadOnlyList<ExtractedSection> Build()
    {
        Flush();
        return _sections;
    }

    private void Flush()
    {
        var text = _text.ToString().Trim();
        _text.Clear();
        if (text.Length > 0)
        {
            _sections.Add(new ExtractedSection(text, [.. _headings.Select(h => h.Text)], null));
        }
    }

    private static string Collapse(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
