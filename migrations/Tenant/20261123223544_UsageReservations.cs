using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AgentSpace.Migrations.Tenant
{
    /// <inheritdoc />
    public partial class UsageReservations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "usage_reservations",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    run_id = table.Column<Guid>(type: "uuid", nullable: false),
                    agent_id = table.Column<Guid>(type: "uuid", nullable: true),
                    projected_usd = table.Column<decimal>(type: "numeric(18,8)", precision: 18, scale: 8, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_usage_reservations", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_usage_reservations_agent_id",
                table: "usage_reservations",
                column: "agent_id");

            migrationBuilder.CreateIndex(
                name: "IX_usage_reservations_created_at",
                table: "usage_reservations",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "IX_usage_reservations_run_id",
                table: "usage_reservations",
                column: "run_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "usage_reservations");
        }
    }
}
