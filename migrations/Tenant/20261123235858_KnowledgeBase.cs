using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Pgvector;

#nullable disable

namespace AgentSpace.Migrations.Tenant
{
    /// <inheritdoc />
    public partial class KnowledgeBase : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "knowledge_documents",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    size_bytes = table.Column<long>(type: "bigint", nullable: false),
                    content_hash = table.Column<byte[]>(type: "bytea", maxLength: 32, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    progress_done = table.Column<int>(type: "integer", nullable: false),
                    progress_total = table.Column<int>(type: "integer", nullable: false),
                    error = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    chunk_count = table.Column<int>(type: "integer", nullable: false),
                    char_count = table.Column<long>(type: "bigint", nullable: false),
                    embedder = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: true),
                    uploaded_by = table.Column<Guid>(type: "uuid", nullable: false),
                    uploaded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ready_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_knowledge_documents", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "knowledge_settings",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    embedding_provider_id = table.Column<Guid>(type: "uuid", nullable: true),
                    embedding_model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    language = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_knowledge_settings", x => x.id);
                    table.ForeignKey(
                        name: "FK_knowledge_settings_model_providers_embedding_provider_id",
                        column: x => x.embedding_provider_id,
                        principalTable: "model_providers",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                });

            migrationBuilder.CreateTable(
                name: "agent_documents",
                columns: table => new
                {
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    document_id = table.Column<Guid>(type: "uuid", nullable: false),
                    attached_by = table.Column<Guid>(type: "uuid", nullable: false),
                    attached_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_agent_documents", x => new { x.agent_id, x.document_id });
                    table.ForeignKey(
                        name: "FK_agent_documents_agents_agent_id",
                        column: x => x.agent_id,
                        principalTable: "agents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_agent_documents_knowledge_documents_document_id",
                        column: x => x.document_id,
                        principalTable: "knowledge_documents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "knowledge_chunks",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    document_id = table.Column<Guid>(type: "uuid", nullable: false),
                    ordinal = table.Column<int>(type: "integer", nullable: false),
                    text = table.Column<string>(type: "text", nullable: false),
                    token_count = table.Column<int>(type: "integer", nullable: false),
                    page = table.Column<int>(type: "integer", nullable: true),
                    heading_path = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    start_char = table.Column<int>(type: "integer", nullable: false),
                    embedder = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: true),
                    dimensions = table.Column<int>(type: "integer", nullable: true),
                    embedding = table.Column<HalfVector>(type: "halfvec", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_knowledge_chunks", x => x.id);
                    table.ForeignKey(
                        name: "FK_knowledge_chunks_knowledge_documents_document_id",
                        column: x => x.document_id,
                        principalTable: "knowledge_documents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "knowledge_jobs",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    document_id = table.Column<Guid>(type: "uuid", nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    lease_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    lease_owner = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    upload_node = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_knowledge_jobs", x => x.id);
                    table.ForeignKey(
                        name: "FK_knowledge_jobs_knowledge_documents_document_id",
                        column: x => x.document_id,
                        principalTable: "knowledge_documents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_agent_documents_document_id",
                table: "agent_documents",
                column: "document_id");

            migrationBuilder.CreateIndex(
                name: "IX_knowledge_chunks_document_id_ordinal",
                table: "knowledge_chunks",
                columns: new[] { "document_id", "ordinal" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_knowledge_documents_content_hash",
                table: "knowledge_documents",
                column: "content_hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_knowledge_documents_uploaded_at",
                table: "knowledge_documents",
                column: "uploaded_at");

            migrationBuilder.CreateIndex(
                name: "IX_knowledge_jobs_created_at",
                table: "knowledge_jobs",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "IX_knowledge_jobs_document_id",
                table: "knowledge_jobs",
                column: "document_id");

            migrationBuilder.CreateIndex(
                name: "IX_knowledge_settings_embedding_provider_id",
                table: "knowledge_settings",
                column: "embedding_provider_id");

            // Full-text side of hybrid retrieval: the organization's language next to "simple" (exact words, names,
            // codes), over the heading path and the text. EF does not map these two columns.
            migrationBuilder.Sql("""
                ALTER TABLE knowledge_chunks ADD COLUMN language regconfig NOT NULL DEFAULT 'english';
                ALTER TABLE knowledge_chunks ADD COLUMN search tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector(language, heading_path), 'A') || setweight(to_tsvector(language, text), 'B')
                    || setweight(to_tsvector('simple'::regconfig, heading_path), 'C') || setweight(to_tsvector('simple'::regconfig, text), 'D')) STORED;
                CREATE INDEX ix_knowledge_chunks_search ON knowledge_chunks USING gin (search);
                """);
            // HNSW needs a fixed dimension: one partial expression index per supported dimension (KnowledgeSchema.IndexedDimensions).
            foreach (var dimensions in new[] { 384, 768, 1024, 1536, 3072 })
            {
                migrationBuilder.Sql($"""
                    CREATE INDEX ix_knowledge_chunks_embedding_{dimensions} ON knowledge_chunks
                    USING hnsw ((embedding::halfvec({dimensions})) halfvec_cosine_ops) WHERE dimensions = {dimensions};
                    """);
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agent_documents");

            migrationBuilder.DropTable(
                name: "knowledge_chunks");

            migrationBuilder.DropTable(
                name: "knowledge_jobs");

            migrationBuilder.DropTable(
                name: "knowledge_settings");

            migrationBuilder.DropTable(
                name: "knowledge_documents");
        }
    }
}
