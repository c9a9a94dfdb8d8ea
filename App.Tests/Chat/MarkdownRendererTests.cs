using AgentSpace.Chat;

namespace AgentSpace.Tests.Chat;

/// <summary>What a model's answer can put into the page: formatting yes, script never.</summary>
public sealed class MarkdownRendererTests
{
    private readonly MarkdownRenderer _renderer = new();

    [Fact]
    public void Render_Formatting_BecomesHtml()
    {
        var html = _renderer.RenderHtml("# Title\n\nSome **bold** and a [link](https://example.com/a).\n\n| a | b |\n|---|---|\n| 1 | 2 |");

        Assert.Contains("<h1", html, StringComparison.Ordinal);
        Assert.Contains("<strong>bold</strong>", html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://example.com/a\"", html, StringComparison.Ordinal);
        Assert.Contains("rel=\"noopener noreferrer nofollow\"", html, StringComparison.Ordinal);
        Assert.Contains("<table>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("Hi <img src=x onerror=alert(1)>")]
    [InlineData("<iframe src=\"https://evil.example\"></iframe>")]
    [InlineData("<a href=\"https://example.com\" onclick=\"steal()\">x</a>")]
    public void Render_RawHtml_IsShownAsTextNeverAsElements(string markdown)
    {
        var html = _renderer.RenderHtml(markdown);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<iframe", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<a ", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[click](javascript:alert(1))")]
    [InlineData("[click](JaVaScRiPt:alert(1))")]
    [InlineData("[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)")]
    [InlineData("[click](vbscript:msgbox(1))")]
    [InlineData("<javascript:alert(1)>")]
    public void Render_ScriptLinks_HaveNoHref(string markdown)
    {
        var html = _renderer.RenderHtml(markdown);

        Assert.DoesNotMatch(@"(?i)href\s*=\s*""?\s*(javascript|data|vbscript):", html);
    }

    [Theory]
    [InlineData("[click](//evil.test/path)")]
    [InlineData("[click](///evil.test/path)")]
    [InlineData("[click](\\\\evil.test/path)")]
    [InlineData("[click](/o/other-org/agents)")]
    [InlineData("[click](settings/models)")]
    [InlineData("[click](../admin)")]
    [InlineData("[click](#top)")]
    [InlineData("[click](?delete=1)")]
    [InlineData("[click][r]\n\n[r]: //evil.test")]
    [InlineData("[click](https:evil.test)")]
    [InlineData("[click](ftp://files.example.com/a)")]
    [InlineData("![x](/api/avatar.png)")]
    public void Render_RelativeOrProtocolRelativeLink_KeepsTextButHasNoHref(string markdown)
    {
        var html = _renderer.RenderHtml(markdown);

        Assert.DoesNotContain("href=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=", html, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("[docs](https://example.com/a?b=1#c)", "https://example.com/a?b=1#c")]
    [InlineData("[plain](http://intranet.example/wiki)", "http://intranet.example/wiki")]
    [InlineData("[mail](mailto:help@example.com)", "mailto:help@example.com")]
    [InlineData("see www.example.com/x", "http://www.example.com/x")]
    public void Render_AbsoluteLink_KeepsItsHref(string markdown, string href) =>
        Assert.Contains($"href=\"{href}\"", _renderer.RenderHtml(markdown), StringComparison.Ordinal);

    [Fact]
    public void Render_CodeBlock_IsASeparateTextSegmentWithItsLanguage()
    {
        var segments = _renderer.Render("Run this:\n\n```bash\necho '<script>hi</script>'\n```\n\nDone.");

        Assert.Collection(segments,
            s => Assert.Contains("Run this:", Assert.IsType<HtmlSegment>(s).Html, StringComparison.Ordinal),
            s =>
            {
                var code = Assert.IsType<CodeSegment>(s);
                Assert.Equal(("echo '<script>hi</script>'", "bash"), (code.Code, code.Language));
            },
            s => Assert.Contains("Done.", Assert.IsType<HtmlSegment>(s).Html, StringComparison.Ordinal));
        Assert.DoesNotContain("<script>", _renderer.RenderHtml("```\n<script>x</script>\n```"), StringComparison.Ordinal);
    }
}
