using AgentSpace.Chat;
using Xunit.Abstractions;

namespace AgentSpace.Tests.Chat;

/// <summary>Answers an attacker might make a model write: none of them puts active content or a scripted link into the page.</summary>
public sealed class MarkdownXssTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("[a](javascript:alert(1))")]
    [InlineData("[a](JaVaScRiPt:alert(1))")]
    [InlineData("[a](java&#x09;script:alert(1))")]
    [InlineData("[a](&#106;avascript:alert(1))")]
    [InlineData("[a][r]\n\n[r]: javascript:alert(1)")]
    [InlineData("![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)")]
    [InlineData("[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)")]
    [InlineData("<svg onload=alert(1)>")]
    [InlineData("<img src=x onerror=alert(1)>")]
    [InlineData("<div\nonclick=alert(1)>x</div>")]
    [InlineData("[a](vbscript:msgbox(1))")]
    [InlineData("[a](\"onmouseover=alert(1) x=\")")]
    [InlineData("www.x.test/\"onmouseover=alert(1)")]
    [InlineData("[a](//evil.test/path)")]
    [InlineData("[a](/o/other-org/agents)")]
    [InlineData("| a |\n|---|\n| <script>alert(1)</script> |")]
    public void Render_HostileMarkdown_HasNoActiveContent(string md)
    {
        var html = new MarkdownRenderer().RenderHtml(md);
        output.WriteLine(html);
        Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("data:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("vbscript:", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<svg", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("<[^>]+\\son[a-z]+=", html);
        // Every address left is a full http(s) or mailto one.
        Assert.DoesNotMatch("(?i)(href|src)=\"(?!https?://[^/]|mailto:)", html);
    }
}
