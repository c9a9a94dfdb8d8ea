using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using AgentSpace.Hosting;
using AgentSpace.Providers.Pages;
using AgentSpace.Tenancy;
using AgentSpace.Tests.Hosting;
using AgentSpace.Tests.Infrastructure;
using AngleSharp.Dom;
using Bunit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MudBlazor;
using Sentry;

namespace AgentSpace.Tests.Providers;

/// <summary>Settings → Models as an Admin uses it, and where a key typed into it must never turn up again.</summary>
public sealed class ModelsPageTests(ProvidersFixture data) : PageTestBase(data), IClassFixture<ProvidersFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly CapturingLoggerProvider _logs = new();

    private void SignInCapturingLogs(AgentSpace.Identity.Actor actor)
    {
        Services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace));
        Services.AddSingleton<ILoggerProvider>(_logs);
        SignInAs(actor);
    }

    [Fact]
    public async Task ApiKey_EnteredOnThePage_AppearsInNoLogAuditRowSentryEnvelopeHtmlOrPageField()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Member);
        await using var server = await RecordingModelServer.StartAsync();
        var canary = "sk-canary-" + Guid.NewGuid().ToString("N");
        server.ApiKey = canary;
        SignInCapturingLogs(org.Owner);

        var cut = Render<Models>(p => p.Add(x => x.Slug, org.Org.Slug));
        cut.WaitForAssertion(() => Assert.Contains("No model providers yet", cut.Markup, StringComparison.Ordinal), Wait);
        Button(cut, "Add provider").Click();
        var editor = "[aria-label='Provider editor']";
        // The editor renders after the click's render cycle; under load it can come a moment later.
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll($"{editor} input"), i => i.GetAttribute("value") == "https://api.openai.com/v1"), Wait);
        Type(cut.FindAll($"{editor} input").Single(i => i.GetAttribute("value") == "https://api.openai.com/v1"), server.BaseUrl);
        Type(cut.Find($"{editor} input[type=password]"), canary);
        await cut.Find($"{editor} form").SubmitAsync();
        cut.WaitForAssertion(() => Assert.Contains("API key: sk-…" + canary[^4..], cut.Markup, StringComparison.Ordinal), Wait);

        // Use the key: the provider is called with it (and the HTTP client logs what it does).
        Button(cut, "Test connection").Click();
        cut.WaitForAssertion(() => Assert.Contains("Connected to OpenAI", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.Equal("Bearer " + canary, server.Received[^1].Authorization);

        // A fault after saving, reported through the app's scrubber to a real Sentry endpoint.
        var envelopes = await ReportToSentryAsync(new InvalidOperationException($"The provider rejected {canary} for this request."));

        Assert.Empty(cut.FindAll($"{editor}"));
        Assert.DoesNotContain(canary, cut.Markup, StringComparison.Ordinal);
        Assert.Empty(StringsHolding(cut.Instance, canary));
        Assert.NotEmpty(_logs.Lines);
        Assert.Empty(_logs.Lines.Where(line => line.Contains(canary, StringComparison.Ordinal)).Select(l => l[..Math.Min(200, l.Length)]));
        var audit = JsonSerializer.Serialize(await Data.AuditLogAsync(org.Owner, org.Org.Slug));
        Assert.Contains("provider.created", audit, StringComparison.Ordinal);
        Assert.DoesNotContain(canary, audit, StringComparison.Ordinal);
        Assert.Contains("The provider rejected", envelopes, StringComparison.Ordinal);
        Assert.DoesNotContain(canary, envelopes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_NoProviders_ExplainsAgentsAnswerOffline()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Admin);
        SignInCapturingLogs(org.Member);

        var cut = Render<Models>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("every agent answers Offline", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.NotNull(Button(cut, "Add provider"));
    }

    [Fact]
    public async Task Page_AsMember_ShowsTheRefusalAndNoProvider()
    {
        var org = await Data.OrgWithMemberAsync(OrgRole.Member);
        await using var server = await RecordingModelServer.StartAsync();
        await ((ProvidersFixture)Data).AddProviderAsync(org.Owner, org.Org, server, name: "Hidden provider");
        SignInCapturingLogs(org.Member);

        var cut = Render<Models>(p => p.Add(x => x.Slug, org.Org.Slug));

        cut.WaitForAssertion(() => Assert.Contains("This needs the Admin role or higher.", cut.Markup, StringComparison.Ordinal), Wait);
        Assert.DoesNotContain("Hidden provider", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Add provider", cut.Markup, StringComparison.Ordinal);
    }

    private static IElement Button(IRenderedComponent<Models> cut, string text) =>
        cut.FindAll("button").First(b => b.TextContent.Contains(text, StringComparison.Ordinal));

    private static void Type(IElement input, string value)
    {
        try
        {
            input.Input(value);
        }
        catch (Bunit.MissingEventHandlerException)
        {
            input.Change(value);
        }
    }

    private async Task<string> ReportToSentryAsync(Exception error)
    {
        await using var receiver = await ErrorTrackingTests.SentryReceiver.StartAsync();
        var scrubber = new SentryScrubber(Services.GetRequiredService<SecretValues>(), new HttpContextAccessor());
        var options = new SentryOptions { Dsn = $"http://public@{receiver.BaseUrl.Authority}/1", AutoSessionTracking = false };
        options.SetBeforeSend(scrubber.ScrubEvent);
        var client = new SentryClient(options);
        client.CaptureException(error);
        var deadline = DateTime.UtcNow + Wait;
        while (receiver.Envelopes.Count == 0 && DateTime.UtcNow < deadline)
        {
            await client.FlushAsync(TimeSpan.FromSeconds(2));
            await Task.Delay(50);
        }
        return string.Join("\n", receiver.Envelopes);
    }

    /// <summary>Paths to every string reachable from the component's fields (a few levels deep) that holds <paramref name="secret"/>.</summary>
    private static List<string> StringsHolding(object root, string secret)
    {
        var found = new List<string>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        Walk(root, "page", 0);
        return found;

        void Walk(object? value, string path, int depth)
        {
            switch (value)
            {
                case null:
                    return;
                case string text:
                    if (text.Contains(secret, StringComparison.Ordinal))
                    {
                        found.Add(path);
                    }
                    return;
                case System.Type or Delegate or IServiceProvider:
                    return;
            }
            if (depth > 5 || value.GetType().IsPrimitive || value is decimal or Guid or DateTimeOffset || !seen.Add(value))
            {
                return;
            }
            if (value is IEnumerable items)
            {
                var i = 0;
                foreach (var item in items)
                {
                    Walk(item, $"{path}[{i++}]", depth + 1);
                }
            }
            var type = value.GetType();
            // Our own objects in full; framework objects (services, MudBlazor internals) are not the page's state.
            if (type.Namespace?.StartsWith("AgentSpace", StringComparison.Ordinal) != true && !type.Name.StartsWith("ValueTuple", StringComparison.Ordinal)
                && !(type.IsGenericType && type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true))
            {
                return;
            }
            for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            {
                foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly))
                {
                    if (IsInjectedService(t, field))
                    {
                        // Services are not the page's state (the scrubber's list of secrets lives in one, by design).
                        continue;
                    }
                    Walk(field.GetValue(value), $"{path}.{field.Name}", depth + 1);
                }
            }
        }
    }

    private static bool IsInjectedService(System.Type owner, FieldInfo field)
    {
        const string suffix = ">k__BackingField";
        if (!field.Name.StartsWith('<') || !field.Name.EndsWith(suffix, StringComparison.Ordinal))
        {
            return false;
        }
        var property = owner.GetProperty(field.Name[1..^suffix.Length], BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly);
        return property?.GetCustomAttribute<Microsoft.AspNetCore.Components.InjectAttribute>() is not null;
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyCollection<string> Lines => _lines;

        // bUnit's own test renderer logs each dispatched event with its value (the harness typing, not the app).
        public ILogger CreateLogger(string categoryName) =>
            categoryName.StartsWith("Bunit.", StringComparison.Ordinal) ? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance : new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                lines.Enqueue($"{category} scope {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var structured = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                lines.Enqueue($"{category} {logLevel} {formatter(state, exception)} {structured} {exception}");
            }
        }
    }
}
