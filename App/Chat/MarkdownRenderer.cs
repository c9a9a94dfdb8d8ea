using Ganss.Xss;
using Markdig;
using Markdig.Renderers;
using Markdig.Syntax;

namespace AgentSpace.Chat;

/// <summary>A piece of a rendered answer: sanitized HTML, or a code block the page shows as text with a copy button.</summary>
public abstract record MarkdownSegment;

public sealed record HtmlSegment(string Html) : MarkdownSegment;

public sealed record CodeSegment(string Code, string? Language) : MarkdownSegment;

/// <summary>
/// Model answers as Markdown (Markdig) turned into HTML that is safe to put in the page: raw HTML in the
/// Markdown is shown as text, and the result goes through HtmlSanitizer (no script, no event handlers, no
/// <c>javascript:</c> or <c>data:</c> links); a link keeps its address only if it is a full http(s) or mailto one. Code blocks come out as <see cref="CodeSegment"/>s, rendered by
/// the page as text, so a copy button can sit beside each.
/// </summary>
public sealed class MarkdownRenderer
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UsePipeTables()
        .UseEmphasisExtras()
        .UseAutoLinks()
        .UseTaskLists()
        .Build();

    private readonly HtmlSanitizer _sanitizer = CreateSanitizer();

    public IReadOnlyList<MarkdownSegment> Render(string markdown)
    {
        var document = Markdown.Parse(markdown ?? "", Pipeline);
        var segments = new List<MarkdownSegment>();
        var pending = new List<Block>();
        foreach (var block in document)
        {
            if (block is CodeBlock code)
            {
                Flush();
                var text = string.Join('\n', code.Lines.Lines.Take(code.Lines.Count).Select(l => l.Slice.ToString()));
                segments.Add(new CodeSegment(text, (code as FencedCodeBlock)?.Info is { Length: > 0 } info ? info : null));
            }
            else
            {
                pending.Add(block);
            }
        }
        Flush();
        return segments;

        void Flush()
        {
            if (pending.Count == 0)
            {
                return;
            }
            using var writer = new StringWriter();
            var renderer = new HtmlRenderer(writer);
            Pipeline.Setup(renderer);
            foreach (var block in pending)
            {
                renderer.Render(block);
            }
            writer.Flush();
            segments.Add(new HtmlSegment(_sanitizer.Sanitize(writer.ToString())));
            pending.Clear();
        }
    }

    /// <summary>The whole answer as one safe HTML string (code blocks as escaped <c>pre</c>).</summary>
    public string RenderHtml(string markdown) =>
        string.Concat(Render(markdown).Select(s => s switch
        {
            HtmlSegment h => h.Html,
            CodeSegment c => "<pre><code>" + System.Net.WebUtility.HtmlEncode(c.Code) + "</code></pre>",
            _ => "",
        }));

    private static HtmlSanitizer CreateSanitizer()
    {
        var sanitizer = new HtmlSanitizer();
        sanitizer.AllowedSchemes.Clear();
        sanitizer.AllowedSchemes.Add("https");
        sanitizer.AllowedSchemes.Add("http");
        sanitizer.AllowedSchemes.Add("mailto");
        sanitizer.AllowedAttributes.Remove("style");
        sanitizer.AllowedTags.Remove("form");
        sanitizer.AllowedTags.Remove("img");
        sanitizer.AllowDataAttributes = false;
        sanitizer.PostProcessNode += (_, e) =>
        {
            if (e.Node is not AngleSharp.Dom.IElement element)
            {
                return;
            }
            foreach (var name in UrlAttributes)
            {
                if (element.GetAttribute(name) is { } url && !IsAbsoluteLink(url))
                {
                    element.RemoveAttribute(name);
                }
            }
            // Links leave the app in a new tab, without the referrer or a handle back to the page.
            if (element.TagName == "A")
            {
                element.SetAttribute("rel", "noopener noreferrer nofollow");
                element.SetAttribute("target", "_blank");
            }
        };
        return sanitizer;
    }

    private static readonly string[] UrlAttributes = ["href", "src", "cite", "action", "formaction", "poster", "background"];

    /// <summary>
    /// Only a full http(s) or mailto address. A relative link (<c>/o/other-org/agents</c>) would act inside the app
    /// with the reader's session, and a protocol-relative one (<c>//evil.test</c>) leaves it while looking local.
    /// </summary>
    internal static bool IsAbsoluteLink(string url)
    {
        var text = url.Trim();
        return !text.StartsWith("//", StringComparison.Ordinal)
            && !text.StartsWith('\\')
            && Uri.TryCreate(text, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp ? !string.IsNullOrEmpty(uri.Host) : uri.Scheme == Uri.UriSchemeMailto);
    }
}
