using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AgentSpace.Migrations.Tenant
{
    /// <inheritdoc />
    public partial class Boardroom : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "boardroom_sessions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    question = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    context = table.Column<string>(type: "character varying(20000)", maxLength: 20000, nullable: false),
                    document_ids = table.Column<Guid[]>(type: "uuid[]", nullable: false),
                    mode = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    speaker_order = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    max_rounds = table.Column<int>(type: "integer", nullable: false),
                    budget_usd = table.Column<decimal>(type: "numeric(18,6)", precision: 18, scale: 6, nullable: false),
                    chair_agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    chair_name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    stop_reason = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    stop_detail = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    created_by = table.Column<Guid>(type: "uuid", nullable: false),
                    created_by_name = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    run_id = table.Column<Guid>(type: "uuid", nullable: true),
                    decision_id = table.Column<Guid>(type: "uuid", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_boardroom_sessions", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "boardroom_members",
                columns: table => new
                {
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: false),
                    seat = table.Column<int>(type: "integer", nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_boardroom_members", x => new { x.session_id, x.agent_id });
                    table.ForeignKey(
                        name: "FK_boardroom_members_boardroom_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "boardroom_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "boardroom_sources",
                columns: table => new
                {
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    number = table.Column<int>(type: "integer", nullable: false),
                    chunk_id = table.Column<Guid>(type: "uuid", nullable: false),
                    document_id = table.Column<Guid>(type: "uuid", nullable: false),
                    document_name = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    page = table.Column<int>(type: "integer", nullable: true),
                    heading_path = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    excerpt = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_boardroom_sources", x => new { x.session_id, x.number });
                    table.ForeignKey(
                        name: "FK_boardroom_sources_boardroom_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "boardroom_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "boardroom_turns",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    round = table.Column<int>(type: "integer", nullable: false),
                    sequence = table.Column<int>(type: "integer", nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: true),
                    author_id = table.Column<Guid>(type: "uuid", nullable: true),
                    speaker = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    error = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    stance = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    confidence = table.Column<double>(type: "double precision", nullable: true),
                    provider_label = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    input_tokens = table.Column<int>(type: "integer", nullable: false),
                    output_tokens = table.Column<int>(type: "integer", nullable: false),
                    cost_usd = table.Column<decimal>(type: "numeric(18,8)", precision: 18, scale: 8, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_boardroom_turns", x => x.id);
                    table.ForeignKey(
                        name: "FK_boardroom_turns_boardroom_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "boardroom_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "decision_records",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    supersedes_id = table.Column<Guid>(type: "uuid", nullable: true),
                    agent_ids = table.Column<Guid[]>(type: "uuid[]", nullable: false),
                    finalized_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    finalized_by = table.Column<Guid>(type: "uuid", nullable: false),
                    finalized_by_name = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_decision_records", x => x.id);
                    table.ForeignKey(
                        name: "FK_decision_records_boardroom_sessions_session_id",
                        column: x => x.session_id,
                        principalTable: "boardroom_sessions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_decision_records_decision_records_supersedes_id",
                        column: x => x.supersedes_id,
                        principalTable: "decision_records",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "IX_boardroom_sessions_created_at",
                table: "boardroom_sessions",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "IX_boardroom_sources_session_id_chunk_id",
                table: "boardroom_sources",
                columns: new[] { "session_id", "chunk_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_boardroom_turns_session_id_sequence",
                table: "boardroom_turns",
                columns: new[] { "session_id", "sequence" });

            migrationBuilder.CreateIndex(
                name: "IX_decision_records_agent_ids",
                table: "decision_records",
                column: "agent_ids")
                .Annotation("Npgsql:IndexMethod", "gin");

            migrationBuilder.CreateIndex(
                name: "IX_decision_records_finalized_at",
                table: "decision_records",
                column: "finalized_at");

            migrationBuilder.CreateIndex(
                name: "IX_decision_records_session_id",
                table: "decision_records",
                column: "session_id");

            migrationBuilder.CreateIndex(
                name: "IX_decision_records_supersedes_id",
                table: "decision_records",
                column: "supersedes_id",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "boardroom_members");

            migrationBuilder.DropTable(
                name: "boardroom_sources");

            migrationBuilder.DropTable(
                name: "boardroom_turns");

            migrationBuilder.DropTable(
                name: "decision_records");

            migrationBuilder.DropTable(
                name: "boardroom_sessions");
        }
    }
}
