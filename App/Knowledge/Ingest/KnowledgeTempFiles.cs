using Microsoft.Extensions.Options;

namespace AgentSpace.Knowledge;

/// <summary>
/// The only place an uploaded file exists: one private folder per node. An upload is written to
/// <c>{id}.partial</c>, renamed to <c>{id}.upload</c> before its document row commits, and deleted once its text is in
/// the database or it failed. At start, everything not belonging to a document still waiting here is swept.
/// </summary>
public sealed class KnowledgeTempFiles
{
    private const string PartialSuffix = ".partial";
    private const string UploadSuffix = ".upload";

    public KnowledgeTempFiles(IOptions<KnowledgeOptions> options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        Directory = string.IsNullOrWhiteSpace(options.Value.TempDirectory)
            ? Path.Combine(Path.GetTempPath(), "agentspace-knowledge")
            : Path.GetFullPath(options.Value.TempDirectory);
        Node = string.IsNullOrWhiteSpace(configuration["Knowledge:NodeName"]) ? Environment.MachineName : configuration["Knowledge:NodeName"]!;
    }

    /// <summary>The folder; created owner-only on first use.</summary>
    public string Directory { get; }

    /// <summary>This node's name: an upload is processed where its file is.</summary>
    public string Node { get; }

    public string PartialPath(Guid documentId) => Path.Combine(Ensure(), documentId.ToString("N") + PartialSuffix);

    public string UploadPath(Guid documentId) => Path.Combine(Ensure(), documentId.ToString("N") + UploadSuffix);

    public void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Swept at the next start.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Deletes every file in the folder except the uploads of <paramref name="waiting"/>; returns how many it deleted.</summary>
    public int Sweep(IReadOnlySet<Guid> waiting)
    {
        ArgumentNullException.ThrowIfNull(waiting);
        if (!System.IO.Directory.Exists(Directory))
        {
            return 0;
        }
        var swept = 0;
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(path);
            if (name.EndsWith(UploadSuffix, StringComparison.Ordinal)
                && Guid.TryParseExact(name[..^UploadSuffix.Length], "N", out var id) && waiting.Contains(id))
            {
                continue;
            }
            Delete(path);
            swept++;
        }
        return swept;
    }

    /// <summary>The files in the folder now (for tests and the start-up log).</summary>
    public IReadOnlyList<string> Files() =>
        System.IO.Directory.Exists(Directory) ? [.. System.IO.Directory.EnumerateFiles(Directory)] : [];

    private string Ensure()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            if (OperatingSystem.IsWindows())
            {
                System.IO.Directory.CreateDirectory(Directory);
            }
            else
            {
                System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        return Directory;
    }
}
