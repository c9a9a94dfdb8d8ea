using System.Globalization;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgentSpace.E2E.Infrastructure;

/// <summary>Numbered full-page screenshots of a test's steps, under &lt;test output&gt;/screenshots/&lt;test&gt;/.</summary>
public sealed class Screenshots
{
    private readonly ITestOutputHelper _output;
    private int _step;

    public Screenshots(ITestOutputHelper output, string testName)
    {
        _output = output;
        Folder = Path.Combine(AppContext.BaseDirectory, "screenshots", testName);
        // Only this run's steps, none left over from an earlier run.
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    public string Folder { get; }

    public async Task TakeAsync(IPage page, string step)
    {
        ArgumentNullException.ThrowIfNull(page);
        var path = Path.Combine(Folder, string.Create(CultureInfo.InvariantCulture, $"{++_step:00}-{step}.png"));
        // From the top: a full-page shot of a scrolled page draws the fixed app bar half-way down.
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        _output.WriteLine($"screenshot: {path}");
    }
}
