using System.Globalization;
using System.Text;
using SkiaSharp;

namespace AgentSpace.Boardroom.Export;

/// <summary>
/// A decision record as an A4 PDF drawn through Skia's PDF backend: the sections of the Markdown export as plain
/// text, wrapped to the page, with page numbers. Pages are laid out first and drawn after, so each footer can say
/// "page n of N". Text is drawn as text, with the fonts embedded, so it can be searched and copied.
/// </summary>
public static class DecisionPdf
{
    private const float PageWidth = 595.28f;
    private const float PageHeight = 841.89f;
    private const float MarginX = 56f;
    private const float MarginTop = 56f;
    private const float MarginBottom = 64f;
    private const float ContentWidth = PageWidth - (2 * MarginX);
    private const float ContentBottom = PageHeight - MarginBottom;

    public static byte[] Render(DecisionView record, string organizationName)
    {
        var outline = DecisionOutline.Build(record, organizationName);
        using var fonts = new PdfFonts();
        var pages = new PageLayout(fonts).Lay(outline);

        using var stream = new MemoryStream();
        // The record's own time, not the clock, so the same record always gives the same file.
        var finalized = record.FinalizedAt.UtcDateTime;
        var metadata = new SKDocumentPdfMetadata
        {
            Title = outline.Title,
            Subject = outline.Subtitle,
            Author = DecisionOutline.Clean(organizationName).Trim(),
            Creator = "AgentSpace",
            Creation = finalized,
            Modified = finalized,
        };
        using (var document = SKDocument.CreatePdf(stream, metadata))
        {
            using var paint = new SKPaint { IsAntialias = true };
            for (var i = 0; i < pages.Count; i++)
            {
                var canvas = document.BeginPage(PageWidth, PageHeight);
                foreach (var op in pages[i])
                {
                    op.Draw(canvas, fonts, paint);
                }
                DrawFooter(canvas, fonts, paint, outline.Footer, i + 1, pages.Count);
                document.EndPage();
            }
            document.Close();
        }
        return stream.ToArray();
    }

    private static void DrawFooter(SKCanvas canvas, PdfFonts fonts, SKPaint paint, string label, int page, int pages)
    {
        var baseline = PageHeight - (MarginBottom / 2);
        paint.Color = Palette.Rule;
        paint.StrokeWidth = 0.5f;
        canvas.DrawLine(MarginX, baseline - 12, PageWidth - MarginX, baseline - 12, paint);
        var number = string.Create(CultureInfo.InvariantCulture, $"Page {page} of {pages}");
        var numberWidth = fonts.Measure(number, TextStyle.Footer);
        var room = ContentWidth - numberWidth - 24;
        new TextOp(MarginX, baseline, fonts.Fit(label, TextStyle.Footer, room), TextStyle.Footer, Palette.Muted).Draw(canvas, fonts, paint);
        new TextOp(PageWidth - MarginX - numberWidth, baseline, number, TextStyle.Footer, Palette.Muted).Draw(canvas, fonts, paint);
    }

    private static class Palette
    {
        public static readonly SKColor Text = new(0x1F, 0x23, 0x28);
        public static readonly SKColor Muted = new(0x5F, 0x66, 0x6D);
        public static readonly SKColor Rule = new(0xC8, 0xCD, 0xD2);
        public static readonly SKColor NoticeFill = new(0xFF, 0xF4, 0xD6);
        public static readonly SKColor NoticeBar = new(0xD9, 0x8E, 0x04);
    }

    private enum TextStyle { Title, Subtitle, Heading, Body, Lead, Label, Verbatim, Quote, TableHeader, TableCell, Footer }

    private abstract record DrawOp
    {
        public abstract void Draw(SKCanvas canvas, PdfFonts fonts, SKPaint paint);
    }

    private sealed record TextOp(float X, float Baseline, string Text, TextStyle Style, SKColor Color) : DrawOp
    {
        public override void Draw(SKCanvas canvas, PdfFonts fonts, SKPaint paint)
        {
            paint.Color = Color;
            paint.Style = SKPaintStyle.Fill;
            var x = X;
            foreach (var (run, font) in fonts.Runs(Text, Style))
            {
                canvas.DrawText(run, x, Baseline, SKTextAlign.Left, font, paint);
                x += font.MeasureText(run);
            }
        }
    }

    private sealed record LineOp(float X1, float Y, float X2, float Width, SKColor Color) : DrawOp
    {
        public override void Draw(SKCanvas canvas, PdfFonts fonts, SKPaint paint)
        {
            paint.Color = Color;
            paint.Style = SKPaintStyle.Stroke;
            paint.StrokeWidth = Width;
            canvas.DrawLine(X1, Y, X2, Y, paint);
        }
    }

    private sealed record RectOp(SKRect Rect, SKColor Color) : DrawOp
    {
        public override void Draw(SKCanvas canvas, PdfFonts fonts, SKPaint paint)
        {
            paint.Color = Color;
            paint.Style = SKPaintStyle.Fill;
            canvas.DrawRect(Rect, paint);
        }
    }

    /// <summary>Flows the outline down the pages: wraps text to its width and starts a page where the next thing does not fit.</summary>
    private sealed class PageLayout(PdfFonts fonts)
    {
        private const float ContentHeight = ContentBottom - MarginTop;
        private readonly List<List<DrawOp>> _pages = [[]];
        private float _y = MarginTop;

        private List<DrawOp> Page => _pages[^1];

        public List<List<DrawOp>> Lay(ExportOutline outline)
        {
            Lines(fonts.Wrap(outline.Title, TextStyle.Title, ContentWidth), TextStyle.Title, MarginX, Palette.Text);
            _y += 2;
            Lines(fonts.Wrap(outline.Subtitle, TextStyle.Subtitle, ContentWidth), TextStyle.Subtitle, MarginX, Palette.Muted);
            _y += 6;
            foreach (var section in outline.Sections)
            {
                _y += 10;
                // A heading never ends a page: it moves on with at least the first lines of its section.
                EnsureRoom(fonts.LineHeight(TextStyle.Heading) + (3 * fonts.LineHeight(TextStyle.Body)) + 6);
                Lines([section.Title], TextStyle.Heading, MarginX, Palette.Text);
                Page.Add(new LineOp(MarginX, _y + 1, PageWidth - MarginX, 0.6f, Palette.Rule));
                _y += 6;
                foreach (var block in section.Blocks)
                {
                    Block(block);
                    _y += 4;
                }
            }
            return _pages;
        }

        private void Block(ExportBlock block)
        {
            switch (block)
            {
                case ExportParagraph paragraph:
                    Lines(fonts.Wrap(paragraph.Text, TextStyle.Body, ContentWidth), TextStyle.Body, MarginX, Palette.Text);
                    break;
                case ExportNotice notice:
                    Notice(notice);
                    break;
                case ExportFields fields:
                    Fields(fields);
                    break;
                case ExportItems items:
                    Items(items);
                    break;
                case ExportTable table:
                    Table(table);
                    break;
                default:
                    throw new InvalidOperationException($"No PDF layout for {block.GetType().Name}.");
            }
        }

        private void Notice(ExportNotice notice)
        {
            const float pad = 8f;
            var width = ContentWidth - (2 * pad) - 3;
            var title = fonts.Wrap(notice.Title, TextStyle.Lead, width);
            var text = fonts.Wrap(notice.Text, TextStyle.Body, width);
            var height = (title.Count * fonts.LineHeight(TextStyle.Lead)) + (text.Count * fonts.LineHeight(TextStyle.Body)) + (2 * pad);
            EnsureRoom(Math.Min(height, ContentHeight));
            Page.Add(new RectOp(new SKRect(MarginX, _y, PageWidth - MarginX, Math.Min(_y + height, ContentBottom)), Palette.NoticeFill));
            Page.Add(new RectOp(new SKRect(MarginX, _y, MarginX + 3, Math.Min(_y + height, ContentBottom)), Palette.NoticeBar));
            _y += pad;
            Lines(title, TextStyle.Lead, MarginX + pad + 3, Palette.Text);
            Lines(text, TextStyle.Body, MarginX + pad + 3, Palette.Text);
            _y += pad;
        }

        private void Fields(ExportFields fields)
        {
            const float labelWidth = 118f;
            foreach (var field in fields.Fields)
            {
                var label = fonts.Wrap(field.Label, TextStyle.Label, labelWidth - 8);
                var style = field.Verbatim ? TextStyle.Verbatim : TextStyle.Body;
                var value = fonts.Wrap(field.Value, style, ContentWidth - labelWidth);
                Columns([(label, TextStyle.Label, MarginX, false, labelWidth), (value, style, MarginX + labelWidth, false, ContentWidth - labelWidth)], Palette.Text);
                _y += 2;
            }
        }

        private void Items(ExportItems items)
        {
            const float indent = 14f;
            var width = ContentWidth - indent;
            foreach (var item in items.Items)
            {
                var first = true;
                void Bullet()
                {
                    if (first)
                    {
                        Page.Add(new TextOp(MarginX + 3, _y + fonts.Ascent(TextStyle.Body), "•", TextStyle.Body, Palette.Muted));
                        first = false;
                    }
                }
                if (item.Lead is { Length: > 0 } lead)
                {
                    var lines = fonts.Wrap(lead, TextStyle.Lead, width);
                    EnsureRoom(fonts.LineHeight(TextStyle.Lead) * Math.Min(lines.Count + 1, 4));
                    Bullet();
                    Lines(lines, TextStyle.Lead, MarginX + indent, Palette.Text);
                }
                if (item.Text is { Length: > 0 } text)
                {
                    var lines = fonts.Wrap(text, TextStyle.Body, width);
                    EnsureRoom(fonts.LineHeight(TextStyle.Body));
                    Bullet();
                    Lines(lines, TextStyle.Body, MarginX + indent, Palette.Text);
                }
                if (item.Quote is { Length: > 0 } quote)
                {
                    _y += 1;
                    var lines = fonts.Wrap($"“{quote}”", TextStyle.Quote, width - 10);
                    Lines(lines, TextStyle.Quote, MarginX + indent + 10, Palette.Muted);
                }
                _y += 4;
            }
        }

        private void Table(ExportTable table)
        {
            const float gap = 8f;
            var total = table.Columns.Sum(c => c.Weight);
            var widths = table.Columns.Select(c => ContentWidth * c.Weight / total).ToArray();
            var lefts = new float[widths.Length];
            for (var i = 1; i < widths.Length; i++)
            {
                lefts[i] = lefts[i - 1] + widths[i - 1];
            }

            void Row(IReadOnlyList<string> cells, TextStyle style, bool header)
            {
                var columns = table.Columns.Select((column, i) =>
                {
                    var width = widths[i] - gap;
                    var text = i < cells.Count ? cells[i] : "";
                    return (fonts.Wrap(text, style, width), style, MarginX + lefts[i], column.AlignRight, width);
                }).ToArray();
                var lines = columns.Max(c => c.Item1.Count);
                var height = lines * fonts.LineHeight(style);
                if (!header && _y + height > ContentBottom && height <= ContentHeight - (2 * fonts.LineHeight(TextStyle.TableHeader)))
                {
                    NewPage();
                    Header();
                }
                Columns(columns, Palette.Text, header ? null : Header);
                _y += 2;
                Page.Add(new LineOp(MarginX, _y, PageWidth - MarginX, header ? 0.8f : 0.3f, Palette.Rule));
                _y += 3;
            }

            void Header()
            {
                EnsureRoom(fonts.LineHeight(TextStyle.TableHeader) + (2 * fonts.LineHeight(TextStyle.TableCell)));
                Row([.. table.Columns.Select(c => c.Header)], TextStyle.TableHeader, header: true);
            }

            Header();
            foreach (var row in table.Rows)
            {
                Row(row, TextStyle.TableCell, header: false);
            }
            if (table.Footer is { } footer)
            {
                Row(footer, TextStyle.TableHeader, header: false);
            }
        }

        /// <summary>
        /// Side-by-side wrapped columns, drawn line by line so a row taller than a page still breaks across pages
        /// (the caller moves rows that fit on a page to the next one whole).
        /// </summary>
        private void Columns(IReadOnlyList<(List<string> Lines, TextStyle Style, float X, bool AlignRight, float Width)> columns, SKColor color, Action? onNewPage = null)
        {
            var count = columns.Max(c => c.Lines.Count);
            var lineHeight = columns.Max(c => fonts.LineHeight(c.Style));
            for (var line = 0; line < count; line++)
            {
                if (_y + lineHeight > ContentBottom)
                {
                    NewPage();
                    onNewPage?.Invoke();
                }
                foreach (var column in columns.Where(c => line < c.Lines.Count))
                {
                    var text = column.Lines[line];
                    var x = column.AlignRight ? column.X + column.Width - fonts.Measure(text, column.Style) : column.X;
                    Page.Add(new TextOp(x, _y + fonts.Ascent(column.Style), text, column.Style, color));
                }
                _y += lineHeight;
            }
        }

        private void Lines(IEnumerable<string> lines, TextStyle style, float x, SKColor color)
        {
            var height = fonts.LineHeight(style);
            foreach (var line in lines)
            {
                EnsureRoom(height);
                if (line.Length > 0)
                {
                    Page.Add(new TextOp(x, _y + fonts.Ascent(style), line, style, color));
                }
                _y += height;
            }
        }

        private void EnsureRoom(float height)
        {
            if (_y + height > ContentBottom && _y > MarginTop)
            {
                NewPage();
            }
        }

        private void NewPage()
        {
            _pages.Add([]);
            _y = MarginTop;
        }
    }

    /// <summary>
    /// The typefaces and fonts for one document. The regular and bold faces are found once per process; a character
    /// they lack is drawn with a face that has it (found through the system's font fallback), or as the font's
    /// missing-glyph box when none has it.
    /// </summary>
    private sealed class PdfFonts : IDisposable
    {
        private static readonly Lazy<SKTypeface> Regular = new(() => FindTypeface(bold: false));
        private static readonly Lazy<SKTypeface> Bold = new(() => FindTypeface(bold: true));

        private readonly Dictionary<TextStyle, SKFont> _fonts = [];
        private readonly Dictionary<(SKTypeface Face, TextStyle Style), SKFont> _fallbackFonts = [];
        private readonly Dictionary<(bool Bold, int CodePoint), SKTypeface?> _fallbacks = [];

        public PdfFonts()
        {
            foreach (var style in Enum.GetValues<TextStyle>())
            {
                var (size, bold) = Spec(style);
                _fonts[style] = NewFont(bold ? Bold.Value : Regular.Value, size, bold);
            }
        }

        private static (float Size, bool Bold) Spec(TextStyle style) => style switch
        {
            TextStyle.Title => (18f, true),
            TextStyle.Subtitle => (10f, false),
            TextStyle.Heading => (13f, true),
            TextStyle.Lead or TextStyle.Label => (10.5f, true),
            // A SHA-256 in hex fits the value column on one line at this size, so it can be read and copied whole.
            TextStyle.Verbatim => (9f, false),
            TextStyle.Quote => (9.5f, false),
            TextStyle.TableHeader => (9.5f, true),
            TextStyle.TableCell => (9.5f, false),
            TextStyle.Footer => (8.5f, false),
            _ => (10.5f, false),
        };

        private static SKFont NewFont(SKTypeface face, float size, bool bold) => new(face, size)
        {
            // Only when no bold face was found: the regular one is thickened instead.
            Embolden = bold && !face.IsBold,
            // Unhinted advances: the widths the PDF declares for each glyph match where it is drawn, so text
            // extractors see words, not letters with gaps.
            Hinting = SKFontHinting.None,
            LinearMetrics = true,
            Subpixel = true,
        };

        public float LineHeight(TextStyle style) => _fonts[style].Size * 1.32f;

        public float Ascent(TextStyle style) => -_fonts[style].Metrics.Ascent;

        public float Measure(string text, TextStyle style)
        {
            var width = 0f;
            foreach (var (run, font) in Runs(text, style))
            {
                width += font.MeasureText(run);
            }
            return width;
        }

        /// <summary>The text cut to <paramref name="width"/>, ending in an ellipsis when it was cut.</summary>
        public string Fit(string text, TextStyle style, float width)
        {
            if (Measure(text, style) <= width)
            {
                return text;
            }
            var elements = TextElements(text);
            var cut = new StringBuilder();
            foreach (var element in elements)
            {
                if (Measure(cut + element + "…", style) > width)
                {
                    break;
                }
                cut.Append(element);
            }
            return cut.Append('…').ToString();
        }

        /// <summary>
        /// Lines no wider than <paramref name="width"/>: breaks at spaces, keeps the text's own line breaks, and cuts a
        /// word longer than a line (a URL, a hash) between characters.
        /// </summary>
        public List<string> Wrap(string text, TextStyle style, float width)
        {
            var lines = new List<string>();
            var previousBlank = false;
            foreach (var hardLine in DecisionOutline.Clean(text).Replace('\t', ' ').Split('\n'))
            {
                var words = hardLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 0)
                {
                    // One blank line between paragraphs, however many the text had.
                    if (!previousBlank && lines.Count > 0)
                    {
                        lines.Add("");
                    }
                    previousBlank = true;
                    continue;
                }
                previousBlank = false;
                var current = "";
                foreach (var word in words)
                {
                    var candidate = current.Length == 0 ? word : current + " " + word;
                    if (Measure(candidate, style) <= width)
                    {
                        current = candidate;
                        continue;
                    }
                    if (current.Length > 0)
                    {
                        lines.Add(current);
                    }
                    current = word;
                    if (Measure(word, style) > width)
                    {
                        var piece = new StringBuilder();
                        foreach (var element in TextElements(word))
                        {
                            if (piece.Length > 0 && Measure(piece + element, style) > width)
                            {
                                lines.Add(piece.ToString());
                                piece.Clear();
                            }
                            piece.Append(element);
                        }
                        current = piece.ToString();
                    }
                }
                if (current.Length > 0)
                {
                    lines.Add(current);
                }
            }
            if (lines.Count > 0 && lines[^1].Length == 0)
            {
                lines.RemoveAt(lines.Count - 1);
            }
            return lines.Count == 0 ? [""] : lines;
        }

        /// <summary>The text split into runs that one font can draw: the style's own, or a fallback face for characters it lacks.</summary>
        public IEnumerable<(string Run, SKFont Font)> Runs(string text, TextStyle style)
        {
            var primary = _fonts[style];
            var run = new StringBuilder();
            var runFont = primary;
            foreach (var rune in text.EnumerateRunes())
            {
                var font = FontFor(rune, style, primary);
                if (font != runFont && run.Length > 0)
                {
                    yield return (run.ToString(), runFont);
                    run.Clear();
                }
                runFont = font;
                run.Append(rune.ToString());
            }
            if (run.Length > 0)
            {
                yield return (run.ToString(), runFont);
            }
        }

        private SKFont FontFor(Rune rune, TextStyle style, SKFont primary)
        {
            if (Rune.IsWhiteSpace(rune) || primary.ContainsGlyph(rune.Value))
            {
                return primary;
            }
            var bold = Spec(style).Bold;
            if (!_fallbacks.TryGetValue((bold, rune.Value), out var face))
            {
                // A face this document already uses is asked first: one system look-up per script, not per character.
                face = _fallbackFonts.Where(k => k.Value.ContainsGlyph(rune.Value)).Select(k => k.Key.Face).FirstOrDefault()
                    ?? SKFontManager.Default.MatchCharacter(primary.Typeface.FamilyName, bold ? SKFontStyle.Bold : SKFontStyle.Normal, null, rune.Value);
                _fallbacks[(bold, rune.Value)] = face;
            }
            if (face is null)
            {
                return primary;
            }
            // The face is not disposed here: SkiaSharp hands out one wrapper per native face, which another
            // document may be drawing with at the same time.
            if (!_fallbackFonts.TryGetValue((face, style), out var font))
            {
                font = NewFont(face, primary.Size, bold);
                _fallbackFonts[(face, style)] = font;
            }
            return font;
        }

        private static IEnumerable<string> TextElements(string text)
        {
            var elements = StringInfo.GetTextElementEnumerator(text);
            while (elements.MoveNext())
            {
                yield return elements.GetTextElement();
            }
        }

        /// <summary>
        /// Liberation Sans (metric-compatible with Arial) through fontconfig, then from its usual file, then any sans-serif
        /// face fontconfig offers, then Skia's default: a missing font makes a plainer document, never a failed export.
        /// </summary>
        private static SKTypeface FindTypeface(bool bold)
        {
            var style = bold ? SKFontStyle.Bold : SKFontStyle.Normal;
            foreach (var family in (string[])["Liberation Sans", "Arial", "DejaVu Sans", "Noto Sans"])
            {
                if (SKFontManager.Default.MatchFamily(family, style) is { } face
                    && string.Equals(face.FamilyName, family, StringComparison.OrdinalIgnoreCase))
                {
                    return face;
                }
            }
            var files = bold
                ? (string[])["/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]
                : ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"];
            foreach (var file in files.Where(File.Exists))
            {
                if (SKTypeface.FromFile(file) is { } face)
                {
                    return face;
                }
            }
            return SKTypeface.FromFamilyName("sans-serif", style) ?? SKTypeface.Default;
        }

        public void Dispose()
        {
            foreach (var font in _fonts.Values.Concat(_fallbackFonts.Values))
            {
                font.Dispose();
            }
        }
    }
}
