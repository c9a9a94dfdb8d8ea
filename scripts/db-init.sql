-- Per-database initialisation, run as superuser against each database (agentspace and every
-- fresh test database). Idempotent. Plain SQL only (no psql meta-commands), so it can be
-- executed by psql or as a single Npgsql command. Requires roles app_owner and app_login
-- (created by scripts/postgres.sh).

CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS vector SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO PUBLIC;

-- Nobody may use the public schema implicitly; app_owner owns it.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO app_owner;

DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO app_login', current_database());
  -- pgvector's type and operators (<->, <=>, ...) resolve without schema qualification.
  EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, extensions', current_database());
END
$$;
