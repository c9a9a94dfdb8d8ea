using System.Globalization;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>Numbered full-page screenshots of a test's steps, under &lt;test output&gt;/screenshots/&lt;test&gt;/.</summary>
public sealed class Screenshots(ITestOutputHelper output, string testName)
{
    private int _step;

    public string Folder { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots", testName);

    public async Task TakeAsync(IPage page, string step)
    {
        ArgumentNullException.ThrowIfNull(page);
        var path = Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"{++_step:00}-{step}.png"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }
}
