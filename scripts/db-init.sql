-- Per-database initialisation, run as superuser against each database (agentspace and every
-- fresh test database). Idempotent. Plain SQL only (no psql meta-commands), so it can be
-- executed by psql or as a single Npgsql command. Requires roles app_owner, app_login and
-- app_provisioner (created by scripts/postgres.sh).

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

-- Tenant roles are created and dropped only through these two functions. The login role has no
-- CREATEROLE (on PostgreSQL 15 that attribute would let it grant itself pg_read_server_files or
-- pg_execute_server_program); the functions run as app_provisioner (NOLOGIN, CREATEROLE, created by
-- scripts/postgres.sh), accept nothing but a tenant name, and create the role NOLOGIN NOINHERIT.
-- The login role may only call them: it cannot create, replace or alter anything in this schema.
CREATE SCHEMA IF NOT EXISTS provisioning AUTHORIZATION app_provisioner;
ALTER SCHEMA provisioning OWNER TO app_provisioner;
REVOKE ALL ON SCHEMA provisioning FROM PUBLIC;
GRANT USAGE ON SCHEMA provisioning TO app_login;

CREATE OR REPLACE FUNCTION provisioning.create_tenant_role(tenant text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF tenant IS NULL OR tenant COLLATE "C" !~ '^t_[a-z0-9]{8,32}$' THEN
    RAISE EXCEPTION 'not a tenant role name: %', quote_literal(tenant) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', tenant);
  -- NOINHERIT on the login side: app_login holds no rights of its own on tenant data; it must SET ROLE.
  EXECUTE format('GRANT %I TO app_login', tenant);
END
$fn$;

CREATE OR REPLACE FUNCTION provisioning.drop_tenant_role(tenant text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF tenant IS NULL OR tenant COLLATE "C" !~ '^t_[a-z0-9]{8,32}$' THEN
    RAISE EXCEPTION 'not a tenant role name: %', quote_literal(tenant) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Only a role shaped like the ones create_tenant_role makes: never a login, never a privileged role.
  IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = tenant
             AND (r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls)) THEN
    RAISE EXCEPTION 'role % is not a tenant role', quote_ident(tenant) USING ERRCODE = 'insufficient_privilege';
  END IF;
  EXECUTE format('DROP ROLE IF EXISTS %I', tenant);
END
$fn$;

ALTER FUNCTION provisioning.create_tenant_role(text) OWNER TO app_provisioner;
ALTER FUNCTION provisioning.drop_tenant_role(text) OWNER TO app_provisioner;
REVOKE ALL ON FUNCTION provisioning.create_tenant_role(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION provisioning.drop_tenant_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION provisioning.create_tenant_role(text) TO app_login;
GRANT EXECUTE ON FUNCTION provisioning.drop_tenant_role(text) TO app_login;
