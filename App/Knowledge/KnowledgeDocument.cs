using AgentSpace.Agents;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Pgvector;

namespace AgentSpace.Knowledge;

/// <summary>Where a document is on its way from upload to searchable.</summary>
public enum DocumentStatus
{
    Queued,
    Extracting,
    Chunking,
    Embedding,
    Ready,
    Failed,
}

/// <summary>
/// An uploaded file. The file itself is never stored: only its name, size and hash here, and its text in
/// <see cref="KnowledgeChunk"/> rows.
/// </summary>
public sealed class KnowledgeDocument
{
    public required Guid Id { get; init; }
    /// <summary>Sanitized display name.</summary>
    public required string Name { get; set; }
    /// <summary>Decided from the content during extraction; null until then.</summary>
    public DocumentKind? Kind { get; set; }
    public required long SizeBytes { get; init; }
    /// <summary>SHA-256 of the uploaded bytes; identical content is not stored twice.</summary>
    public required byte[] ContentHash { get; init; }
    public required DocumentStatus Status { get; set; }
    /// <summary>Work done and total in the current stage (chunks embedded of all chunks while embedding).</summary>
    public int ProgressDone { get; set; }
    public int ProgressTotal { get; set; }
    /// <summary>Why processing failed, for the uploader; a clear sentence, never a stack trace.</summary>
    public string? Error { get; set; }
    public int ChunkCount { get; set; }
    public long CharCount { get; set; }
    /// <summary>Embedder whose vectors the chunks carry (see <see cref="KnowledgeChunk.Embedder"/>).</summary>
    public string? Embedder { get; set; }
    public required Guid UploadedBy { get; init; }
    public required DateTimeOffset UploadedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ReadyAt { get; set; }
}

/// <summary>
/// A token-sized piece of a document's text with its source position and vector. The table also has two
/// columns EF does not map: <c>language regconfig</c> (the organization's text-search configuration) and
/// the generated <c>search tsvector</c> over the heading path and text, with a GIN index.
/// </summary>
public sealed class KnowledgeChunk
{
    public required Guid Id { get; init; }
    public required Guid DocumentId { get; init; }
    public required int Ordinal { get; init; }
    public required string Text { get; init; }
    public required int TokenCount { get; init; }
    /// <summary>1-based page for PDFs.</summary>
    public int? Page { get; init; }
    /// <summary>"Chapter › Section", empty when the document has no headings.</summary>
    public required string HeadingPath { get; init; }
    /// <summary>Character offset of the chunk in its section.</summary>
    public required int StartChar { get; init; }
    /// <summary>Id of the embedder that made <see cref="Embedding"/>; null until embedded.</summary>
    public string? Embedder { get; set; }
    public int? Dimensions { get; set; }
    /// <summary>
    /// <c>halfvec</c> of any dimension; HNSW cosine indexes exist per supported dimension
    /// (<see cref="KnowledgeSchema.IndexedDimensions"/>) as partial expression indexes.
    /// </summary>
    public HalfVector? Embedding { get; set; }
}

/// <summary>A document an agent may retrieve from. An agent sees only the documents attached to it.</summary>
public sealed class AgentDocument
{
    public required Guid AgentId { get; init; }
    public required Guid DocumentId { get; init; }
    public required Guid AttachedBy { get; init; }
    public required DateTimeOffset AttachedAt { get; init; }
}

public enum KnowledgeJobKind
{
    /// <summary>Extract, chunk and embed a newly uploaded document.</summary>
    Ingest,
    /// <summary>Embed a ready document's chunks again with the organization's current embedder.</summary>
    Reembed,
}

/// <summary>
/// The durable processing queue: a row per pending job, claimed with <c>FOR UPDATE SKIP LOCKED</c> and a lease,
/// deleted when the job ends. A job whose lease ran out (its process died) is claimed again and resumes.
/// </summary>
public sealed class KnowledgeJob
{
    public required Guid Id { get; init; }
    public required Guid DocumentId { get; init; }
    public required KnowledgeJobKind Kind { get; init; }
    public int Attempts { get; set; }
    /// <summary>Until when the claiming process owns the job; null: never claimed.</summary>
    public DateTimeOffset? LeaseUntil { get; set; }
    /// <summary>The process that holds the lease (its node id), for the upload's temp file lives there.</summary>
    public string? LeaseOwner { get; set; }
    /// <summary>The node that received the upload and holds its temp file.</summary>
    public required string UploadNode { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>The organization's knowledge settings (one row).</summary>
public sealed class KnowledgeSettings
{
    public const int SingletonId = 1;

    public required int Id { get; init; }
    /// <summary>Null: the built-in local embedder.</summary>
    public Guid? EmbeddingProviderId { get; set; }
    public string? EmbeddingModel { get; set; }
    /// <summary>PostgreSQL text-search configuration used next to <c>simple</c> (default <c>english</c>).</summary>
    public string Language { get; set; } = KnowledgeSchema.DefaultLanguage;
    public required DateTimeOffset UpdatedAt { get; set; }
}

public static class KnowledgeSchema
{
    public const string DefaultLanguage = "english";

    /// <summary>Vector dimensions with an HNSW index; other dimensions are searched exactly (slower, still correct).</summary>
    public static readonly IReadOnlyList<int> IndexedDimensions = [384, 768, 1024, 1536, 3072];
}

internal sealed class KnowledgeDocumentConfiguration : IEntityTypeConfiguration<KnowledgeDocument>
{
    public void Configure(EntityTypeBuilder<KnowledgeDocument> builder)
    {
        builder.ToTable("knowledge_documents");
        builder.HasKey(d => d.Id);
        builder.Property(d => d.Name).HasMaxLength(200);
        builder.Property(d => d.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(d => d.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(d => d.ContentHash).HasMaxLength(32);
        builder.HasIndex(d => d.ContentHash).IsUnique();
        builder.Property(d => d.Error).HasMaxLength(1000);
        builder.Property(d => d.Embedder).HasMaxLength(300);
        builder.HasIndex(d => d.UploadedAt);
    }
}

internal sealed class KnowledgeChunkConfiguration : IEntityTypeConfiguration<KnowledgeChunk>
{
    public void Configure(EntityTypeBuilder<KnowledgeChunk> builder)
    {
        builder.ToTable("knowledge_chunks");
        builder.HasKey(c => c.Id);
        builder.HasOne<KnowledgeDocument>().WithMany().HasForeignKey(c => c.DocumentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(c => new { c.DocumentId, c.Ordinal }).IsUnique();
        builder.Property(c => c.HeadingPath).HasMaxLength(1000);
        builder.Property(c => c.Embedder).HasMaxLength(300);
        builder.Property(c => c.Embedding).HasColumnType("halfvec");
    }
}

internal sealed class AgentDocumentConfiguration : IEntityTypeConfiguration<AgentDocument>
{
    public void Configure(EntityTypeBuilder<AgentDocument> builder)
    {
        builder.ToTable("agent_documents");
        builder.HasKey(a => new { a.AgentId, a.DocumentId });
        builder.HasOne<Agent>().WithMany().HasForeignKey(a => a.AgentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<KnowledgeDocument>().WithMany().HasForeignKey(a => a.DocumentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(a => a.DocumentId);
    }
}

internal sealed class KnowledgeJobConfiguration : IEntityTypeConfiguration<KnowledgeJob>
{
    public void Configure(EntityTypeBuilder<KnowledgeJob> builder)
    {
        builder.ToTable("knowledge_jobs");
        builder.HasKey(j => j.Id);
        builder.Property(j => j.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(j => j.LeaseOwner).HasMaxLength(200);
        builder.Property(j => j.UploadNode).HasMaxLength(200);
        builder.HasOne<KnowledgeDocument>().WithMany().HasForeignKey(j => j.DocumentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(j => j.CreatedAt);
    }
}

internal sealed class KnowledgeSettingsConfiguration : IEntityTypeConfiguration<KnowledgeSettings>
{
    public void Configure(EntityTypeBuilder<KnowledgeSettings> builder)
    {
        builder.ToTable("knowledge_settings");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Id).ValueGeneratedNever();
        builder.Property(s => s.EmbeddingModel).HasMaxLength(200);
        builder.Property(s => s.Language).HasMaxLength(63);
        builder.HasOne<Providers.ModelProvider>().WithMany().HasForeignKey(s => s.EmbeddingProviderId).OnDelete(DeleteBehavior.SetNull);
    }
}
