using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Sentry;
using Sentry.Extensibility;
using Sentry.Protocol;

namespace AgentSpace.Hosting;

/// <summary>
/// Sentry, on only when <c>Sentry:Dsn</c> is set. Every event and breadcrumb passes <see cref="SentryScrubber"/>
/// before it leaves the process; the settings that would send more (default PII, request bodies, traces,
/// structured logs, metrics) are forced off here, whatever the configuration says.
/// </summary>
public static class ErrorTracking
{
    public const string Section = "Sentry";

    public static WebApplicationBuilder AddErrorTracking(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var secrets = new SecretValues();
        // Configured passwords and keys are secrets too; the vault adds the credentials it decrypts.
        foreach (var value in ConfiguredSecrets(builder.Configuration))
        {
            secrets.Add(value);
        }
        builder.Services.AddSingleton(secrets);
        if (string.IsNullOrWhiteSpace(builder.Configuration[$"{Section}:Dsn"]))
        {
            return builder;
        }
        builder.Services.AddHttpContextAccessor();
        var scrubber = new SentryScrubber(secrets, new HttpContextAccessor());
        // Runs after the "Sentry" configuration section is bound, so these win over it.
        builder.WebHost.UseSentry(o =>
        {
            o.SendDefaultPii = false;
            o.IsEnvironmentUser = false;
            o.MaxRequestBodySize = RequestSize.None;
            // Transactions, logs and metrics do not pass BeforeSend: off (or dropped) until they get a scrubber of their own.
            o.TracesSampleRate = 0;
            o.TracesSampler = null;
            o.ProfilesSampleRate = 0;
            o.EnableLogs = false;
            o.SetBeforeSendMetric(_ => null);
            o.TracePropagationTargets = [];
            o.SetBeforeSend(scrubber.ScrubEvent);
            o.SetBeforeBreadcrumb(scrubber.ScrubBreadcrumb);
            o.SetBeforeSendTransaction((_, _) => null);
        });
        return builder;
    }

    /// <summary>Values of settings whose name looks secret, and passwords inside connection strings.</summary>
    internal static IEnumerable<string> ConfiguredSecrets(IConfiguration configuration)
    {
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }
            var name = key[(key.LastIndexOf(':') + 1)..];
            if (key.StartsWith("ConnectionStrings:", StringComparison.OrdinalIgnoreCase))
            {
                var parsed = new System.Data.Common.DbConnectionStringBuilder();
                try
                {
                    parsed.ConnectionString = value;
                }
                catch (ArgumentException)
                {
                    continue;
                }
                foreach (var part in new[] { "Password", "Pwd" })
                {
                    if (parsed.TryGetValue(part, out var password) && password is string { Length: > 0 } text)
                    {
                        yield return text;
                    }
                }
            }
            else if (SentryScrubber.LooksSecret(name))
            {
                yield return value;
            }
        }
    }
}

/// <summary>
/// Cleans what Sentry would send: no cookies, request bodies or query strings; no header, tag, extra or
/// data field whose name looks secret; no value held by <see cref="SecretValues"/>, nor any value the
/// current request carried in its query, form, cookies or secret-looking headers. An event that cannot
/// be cleaned is dropped (Sentry would otherwise send it as it was).
/// </summary>
internal sealed partial class SentryScrubber(SecretValues secrets, IHttpContextAccessor http)
{
    private const string Placeholder = SecretValues.Placeholder;

    private static readonly string[] SecretNameParts =
        ["token", "key", "secret", "password", "passwd", "pwd", "auth", "cookie", "session", "credential", "signature", "csrf", "xsrf", "antiforgery"];

    public static bool LooksSecret(string name) =>
        SecretNameParts.Any(part => name.Contains(part, StringComparison.OrdinalIgnoreCase));

    public SentryEvent? ScrubEvent(SentryEvent evt, SentryHint hint)
    {
        ArgumentNullException.ThrowIfNull(evt);
        try
        {
            Scrub(evt, RequestValues());
            return evt;
        }
        catch (Exception)
        {
            // Fail closed: Sentry sends the original event when this callback throws.
            return null;
        }
    }

    public Breadcrumb? ScrubBreadcrumb(Breadcrumb crumb, SentryHint hint)
    {
        ArgumentNullException.ThrowIfNull(crumb);
        try
        {
            var values = RequestValues();
            var data = crumb.Data?.ToDictionary(d => d.Key, d => LooksSecret(d.Key) ? Placeholder : Redact(d.Value, values));
            // Called as the breadcrumb is recorded, so the new one's timestamp is the same moment.
            return new Breadcrumb(Redact(crumb.Message, values) ?? "", crumb.Type ?? "default", data, crumb.Category, crumb.Level);
        }
        catch (Exception)
        {
            return null;
        }
    }

    private void Scrub(SentryEvent evt, string[] values)
    {
        ScrubRequest(evt.Request, values);
        if (evt.Message is { } message)
        {
            evt.Message = new SentryMessage
            {
                Message = Redact(message.Message, values),
                Formatted = Redact(message.Formatted, values),
                Params = message.Params?.Select(p => (object)(Redact(Convert.ToString(p, CultureInfo.InvariantCulture), values) ?? "")).ToList(),
            };
        }
        foreach (var exception in evt.SentryExceptions ?? [])
        {
            exception.Value = Redact(exception.Value, values);
            if (exception.Mechanism is { } mechanism)
            {
                mechanism.Description = Redact(mechanism.Description, values);
                ScrubObjects(mechanism.Data, values);
                ScrubObjects(mechanism.Meta, values);
            }
        }
        foreach (var (key, value) in evt.Extra.ToList())
        {
            evt.SetExtra(key, LooksSecret(key) ? Placeholder : ScrubObject(value, values));
        }
        foreach (var (key, value) in evt.Tags.ToList())
        {
            evt.SetTag(key, LooksSecret(key) ? Placeholder : Redact(value, values));
        }
        foreach (var key in evt.Contexts.Keys.Where(LooksSecret).ToList())
        {
            evt.Contexts[key] = Placeholder;
        }
        // Only the random installation id; Sentry adds no more with default PII off, and nothing else may.
        evt.User = new SentryUser { Id = evt.User.Id };
        evt.TransactionName = Redact(evt.TransactionName, values);
        if (evt.Fingerprint.Count > 0)
        {
            evt.SetFingerprint(evt.Fingerprint.Select(f => Redact(f, values)));
        }
    }

    private void ScrubRequest(SentryRequest request, string[] values)
    {
        request.Url = Redact(request.Url, values);
        request.QueryString = null;
        request.Cookies = null;
        request.Data = null;
        ScrubStrings(request.Headers, values);
        ScrubStrings(request.Env, values);
        ScrubStrings(request.Other, values);
    }

    private void ScrubStrings(IDictionary<string, string> fields, string[] values)
    {
        foreach (var (key, value) in fields.ToList())
        {
            if (LooksSecret(key))
            {
                fields.Remove(key);
            }
            else
            {
                fields[key] = Redact(value, values);
            }
        }
    }

    private void ScrubObjects(IDictionary<string, object> fields, string[] values)
    {
        foreach (var (key, value) in fields.ToList())
        {
            fields[key] = LooksSecret(key) ? Placeholder : ScrubObject(value, values) ?? "";
        }
    }

    private string? ScrubObject(object? value, string[] values) => value switch
    {
        null => null,
        string text => Redact(text, values),
        // Anything else is sent as JSON: clean that text rather than trust the object's shape.
        _ => Redact(Serialize(value), values),
    };

    private static string Serialize(object value)
    {
        try
        {
            return JsonSerializer.Serialize(value);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or JsonException)
        {
            return value.GetType().Name;
        }
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    private string? Redact(string? text, string[] values)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }
        text = secrets.Redact(text);
        foreach (var value in values)
        {
            text = text.Replace(value, Placeholder, StringComparison.Ordinal);
        }
        text = QueryString().Replace(text, "?" + Placeholder);
        text = SchemeCredentials().Replace(text, "$1 " + Placeholder);
        return SecretAssignment().Replace(text, "$1$2" + Placeholder);
    }

    /// <summary>
    /// Values the current request carried where secrets travel: query, form (only when the app already read it;
    /// the body is never read here), cookies, secret-looking headers. App code may log them; they still do not leave.
    /// </summary>
    private string[] RequestValues()
    {
        if (http.HttpContext?.Request is not { } request)
        {
            return [];
        }
        var values = new List<string>();
        foreach (var (_, value) in request.Query)
        {
            values.AddRange(value.OfType<string>());
        }
        foreach (var (_, value) in request.Cookies)
        {
            values.Add(value);
        }
        if (request.HttpContext.Features.Get<IFormFeature>()?.Form is { } form)
        {
            foreach (var (_, value) in form)
            {
                values.AddRange(value.OfType<string>());
            }
        }
        foreach (var (name, value) in request.Headers)
        {
            if (LooksSecret(name))
            {
                foreach (var text in value.OfType<string>())
                {
                    values.Add(text);
                    values.AddRange(text.Split([' ', ';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                }
            }
        }
        return [.. values.Where(v => v.Length >= SecretValues.MinimumLength).Distinct(StringComparer.Ordinal).OrderByDescending(v => v.Length)];
    }

    // "?name=value..." anywhere (absolute or relative URLs in log lines, Referer headers).
    [GeneratedRegex(@"\?[^\s=&#""'<>?/]+=[^\s#""'<>]*")]
    private static partial Regex QueryString();

    [GeneratedRegex(@"(?i)\b(bearer|basic|digest)\s+[A-Za-z0-9._~+/=-]+")]
    private static partial Regex SchemeCredentials();

    // password=..., "apiKey": "...", token: ... in free text.
    [GeneratedRegex(@"(?i)\b([\w.-]*(?:token|key|secret|password|passwd|pwd|authorization|cookie|credential|signature)[\w.-]*""?)(\s*[=:]\s*""?)[^\s&;,""']+")]
    private static partial Regex SecretAssignment();
}
