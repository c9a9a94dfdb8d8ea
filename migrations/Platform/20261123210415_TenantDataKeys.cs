using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AgentSpace.Migrations.Platform
{
    /// <inheritdoc />
    public partial class TenantDataKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "tenant_data_keys",
                schema: "platform",
                columns: table => new
                {
                    organization_id = table.Column<Guid>(type: "uuid", nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    wrapped_key = table.Column<byte[]>(type: "bytea", nullable: false),
                    master_key_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    rewrapped_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_tenant_data_keys", x => new { x.organization_id, x.version });
                });

            migrationBuilder.CreateIndex(
                name: "IX_tenant_data_keys_master_key_id",
                schema: "platform",
                table: "tenant_data_keys",
                column: "master_key_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "tenant_data_keys",
                schema: "platform");
        }
    }
}
