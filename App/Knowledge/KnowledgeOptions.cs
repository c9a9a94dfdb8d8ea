using System.ComponentModel.DataAnnotations;

namespace AgentSpace.Knowledge;

/// <summary>The knowledge base's limits and chunking (section <c>Knowledge</c>).</summary>
public sealed class KnowledgeOptions : IValidatableObject
{
    public const string Section = "Knowledge";

    /// <summary>Largest file accepted, in bytes.</summary>
    public long MaxFileBytes { get; set; } = 25L * 1024 * 1024;

    /// <summary>Total uploaded bytes an organization may keep.</summary>
    public long OrgQuotaBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Target size of a passage, in tokens (o200k).</summary>
    public int ChunkTokens { get; set; } = 400;

    /// <summary>Tokens a passage repeats from the end of the one before it.</summary>
    public int ChunkOverlapTokens { get; set; } = 60;

    /// <summary>A document whose text is longer is refused (a text bomb, or a file that is not a document).</summary>
    public long MaxExtractedChars { get; set; } = 20_000_000;

    /// <summary>A DOCX that unpacks to more than this is refused before it is opened (a zip bomb).</summary>
    public long MaxDocxUncompressedBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>PDFs with more pages are refused.</summary>
    public int MaxPdfPages { get; set; } = 5000;

    /// <summary>Where uploads wait to be read; default: a folder under the system temp folder.</summary>
    public string? TempDirectory { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxFileBytes <= 0 || OrgQuotaBytes <= 0 || MaxExtractedChars <= 0 || MaxDocxUncompressedBytes <= 0 || MaxPdfPages <= 0)
        {
            yield return new ValidationResult("Knowledge limits must be positive.");
        }
        if (ChunkTokens is < 50 or > 8000)
        {
            yield return new ValidationResult("Knowledge:ChunkTokens must be between 50 and 8000.");
        }
        if (ChunkOverlapTokens < 0 || ChunkOverlapTokens * 2 >= ChunkTokens)
        {
            yield return new ValidationResult("Knowledge:ChunkOverlapTokens must be at least 0 and less than half of ChunkTokens.");
        }
    }
}
