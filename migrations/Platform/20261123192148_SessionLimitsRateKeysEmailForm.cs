using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace AgentSpace.Migrations.Platform
{
    /// <inheritdoc />
    public partial class SessionLimitsRateKeysEmailForm : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sign_in_tokens_email_created_at",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.DropIndex(
                name: "IX_sign_in_tokens_request_ip_created_at",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "last_seen_at",
                schema: "platform",
                table: "user_sessions",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            migrationBuilder.AddColumn<string>(
                name: "email_key",
                schema: "platform",
                table: "sign_in_tokens",
                type: "character varying(320)",
                maxLength: 320,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "ip_bucket",
                schema: "platform",
                table: "sign_in_tokens",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "");

            // Open sessions count as used now: the idle limit starts with this release (the absolute lifetime
            // still counts from sign-in). Ended ones keep their own times.
            migrationBuilder.Sql("""
                UPDATE platform.user_sessions SET last_seen_at = CASE WHEN revoked_at IS NULL THEN now() ELSE created_at END;
                """);

            // Tokens are kept a day and limits look back 15 minutes: the mailbox without its +tag and the
            // address as it was are close enough for the rows already there.
            migrationBuilder.Sql("""
                UPDATE platform.sign_in_tokens
                SET email_key = regexp_replace(email, '^([^+@]+)\+[^@]*@', '\1@'),
                    ip_bucket = coalesce(request_ip, 'unknown');
                """);

            // Accounts were found by an upper-cased address (which folded U+017F onto S and U+0131 onto I); from
            // now on by EmailAddress.Normalize's one form, stored in email, user_name and both normalized columns.
            // Every stored address already went through the old Normalize (trimmed, lower case), so an ASCII one is
            // the new form as it is. A non-ASCII one is left exactly as it was: SQL cannot reproduce the new form
            // (PostgreSQL's lower() maps U+0130 to "i" where .NET keeps it; no IDNA), and a guessed form could hand
            // the account to another mailbox. Such an account (none is expected) is simply not found by its new
            // form: that address signs in to a fresh account, and nobody reaches the old one.
            migrationBuilder.Sql("""
                UPDATE platform.users SET normalized_email = email, normalized_user_name = email, user_name = email
                WHERE email ~ '^[\x21-\x7e]+$';
                """);

            migrationBuilder.CreateIndex(
                name: "IX_sign_in_tokens_created_at",
                schema: "platform",
                table: "sign_in_tokens",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "IX_sign_in_tokens_email_key_created_at",
                schema: "platform",
                table: "sign_in_tokens",
                columns: new[] { "email_key", "created_at" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_in_tokens_ip_bucket_created_at",
                schema: "platform",
                table: "sign_in_tokens",
                columns: new[] { "ip_bucket", "created_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                UPDATE platform.users SET normalized_email = upper(email), normalized_user_name = upper(user_name);
                """);

            migrationBuilder.DropIndex(
                name: "IX_sign_in_tokens_created_at",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.DropIndex(
                name: "IX_sign_in_tokens_email_key_created_at",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.DropIndex(
                name: "IX_sign_in_tokens_ip_bucket_created_at",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.DropColumn(
                name: "last_seen_at",
                schema: "platform",
                table: "user_sessions");

            migrationBuilder.DropColumn(
                name: "email_key",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.DropColumn(
                name: "ip_bucket",
                schema: "platform",
                table: "sign_in_tokens");

            migrationBuilder.CreateIndex(
                name: "IX_sign_in_tokens_email_created_at",
                schema: "platform",
                table: "sign_in_tokens",
                columns: new[] { "email", "created_at" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_in_tokens_request_ip_created_at",
                schema: "platform",
                table: "sign_in_tokens",
                columns: new[] { "request_ip", "created_at" });
        }
    }
}
