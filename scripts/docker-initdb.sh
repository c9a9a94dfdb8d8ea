#!/usr/bin/env bash
# Runs once inside the pgvector container on first start (docker-entrypoint-initdb.d):
# the same roles and database that scripts/postgres.sh makes for local development.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  -v app_password="${APP_LOGIN_PASSWORD:?set APP_LOGIN_PASSWORD}" <<'SQL'
CREATE ROLE app_owner NOLOGIN;
CREATE ROLE app_provisioner NOLOGIN CREATEROLE;
CREATE ROLE app_login LOGIN NOINHERIT NOCREATEROLE PASSWORD :'app_password';
GRANT app_owner TO app_login;
CREATE DATABASE agentspace OWNER app_owner;
SQL
psql -v ON_ERROR_STOP=1 --username postgres --dbname agentspace -f /docker-entrypoint-initdb.d/db-init.sql.include
