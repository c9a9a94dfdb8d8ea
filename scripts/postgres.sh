#!/usr/bin/env bash
# Sets up (idempotently) a private PostgreSQL 15 cluster for development and tests.
#
#   * installs missing Debian packages (postgresql-15, contrib, and - only when pgvector
#     has to be built - server-dev, build-essential, dpkg-dev),
#   * builds pgvector from the Debian trixie source package if it is not installed
#     (bookworm has no pgvector package); uses a private apt config under .data/apt,
#   * creates/starts a cluster in <repo>/.data/pg listening on 127.0.0.1:${PGPORT:-55432},
#   * creates roles app_owner / app_provisioner / app_login and database agentspace, runs scripts/db-init.sql,
#   * writes .data/pg.env (APP_CONNECTION, ADMIN_CONNECTION).
#
# All progress output goes to stderr; the LAST (and only) line on stdout is the app's
# Npgsql connection string, so this works:   conn=$(scripts/postgres.sh | tail -n 1)
set -euo pipefail

# Everything written to stdout below goes to stderr; fd 3 is the real stdout.
exec 3>&1 1>&2

log() { printf '[postgres.sh] %s\n' "$*" >&2; }
die() { printf '[postgres.sh] ERROR: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$SCRIPT_DIR")
# Resolved, so a worktree whose .data is a symlink to the main checkout's reuses that cluster as is
# (same socket path, so the configuration compares equal and the cluster is not restarted).
DATA=$(realpath -m -- "$REPO/.data")
PGDATA_DIR=$DATA/pg
SOCKET_DIR=$DATA/pg-socket
PG_LOG=$DATA/pg.log
SUPERPW_FILE=$DATA/pg-superuser.password
ENV_FILE=$DATA/pg.env
DB_INIT_SQL=$SCRIPT_DIR/db-init.sql
PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PGBIN/pg_config
VECTOR_CONTROL=/usr/share/postgresql/$PG_MAJOR/extension/vector.control
DB_NAME=agentspace
APP_USER=app_login
APP_PASSWORD=app_login_dev   # fixed dev password (matches appsettings.json); loopback only
PORT=${PGPORT:-55432}

if ! [[ $PORT =~ ^[0-9]+$ ]] || (( PORT < 1 || PORT > 65535 )); then die "invalid PGPORT '$PORT'"; fi
[[ $EUID -eq 0 ]] || die "must be run as root (installs packages, runs PostgreSQL as the 'postgres' user via runuser)"
[[ -f $DB_INIT_SQL ]] || die "missing $DB_INIT_SQL"

mkdir -p "$DATA"
# Serialise concurrent invocations (e.g. run.sh and test.sh started at the same time).
exec 9>"$DATA/.postgres.sh.lock"
flock -w 900 9 || die "timed out waiting for another scripts/postgres.sh to finish"

# --------------------------------------------------------------------------- packages
is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

wanted=("postgresql-$PG_MAJOR" postgresql-contrib)
if [[ ! -f $VECTOR_CONTROL ]]; then
  wanted+=("postgresql-server-dev-$PG_MAJOR" build-essential dpkg-dev debian-archive-keyring)
fi
missing=()
for p in "${wanted[@]}"; do is_installed "$p" || missing+=("$p"); done
if (( ${#missing[@]} )); then
  log "installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
[[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl && -x $PGBIN/psql ]] || die "PostgreSQL $PG_MAJOR binaries not found in $PGBIN"
id postgres >/dev/null 2>&1 || die "OS user 'postgres' does not exist (should have been created by postgresql-common)"

# --------------------------------------------------------------------------- pgvector
# Mirror URI of the main (non-security) Debian suite, as configured for the system's apt.
detect_mirror() {
  local uri=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; main = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); uri = a[1] }
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] != "" && s[j] !~ /-/) main = 1 }
        }
        if (uri != "" && main) { print uri; exit }
      }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $uri && -r /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($(i+1) !~ /-/) { print $i; exit } break } }' /etc/apt/sources.list)
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

build_pgvector() {
  local apt_dir=$DATA/apt mirror tmp dsc start=$SECONDS
  mirror=${PGVECTOR_MIRROR:-$(detect_mirror)}
  log "pgvector is not installed; building it from the Debian trixie source package (mirror: $mirror)"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$mirror" \
    >"$apt_dir/sources.list"
  # Private apt configuration: the system's sources, lists and caches are left untouched.
  local apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${apt_opts[@]}" update
  tmp=$(mktemp -d /tmp/pgvector-build.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  (cd "$tmp" && apt-get "${apt_opts[@]}" source --download-only pgvector)
  dsc=$(find "$tmp" -maxdepth 1 -name 'pgvector_*.dsc' | head -n 1)
  [[ -n $dsc ]] || die "apt-get source did not download a pgvector .dsc"
  (cd "$tmp" && dpkg-source -x "$dsc" src)
  make -C "$tmp/src" -j"$(nproc)" OPTFLAGS="" PG_CONFIG="$PG_CONFIG"
  make -C "$tmp/src" install PG_CONFIG="$PG_CONFIG"
  rm -rf "$tmp" "$apt_dir/lists" "$apt_dir/cache"
  trap - EXIT
  [[ -f $VECTOR_CONTROL ]] || die "pgvector build finished but $VECTOR_CONTROL is missing"
  log "pgvector $(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$VECTOR_CONTROL") installed in $((SECONDS - start))s"
}

[[ -f $VECTOR_CONTROL ]] || build_pgvector

# --------------------------------------------------------------------------- cluster
as_pg() { runuser -u postgres -- "$@"; }
# pg_ctl start/restart leave the postmaster running in the background: it must not inherit
# any of our file descriptors other than 0-2 (e.g. the lock on fd 9, or fd 3 = the caller's
# stdout pipe, which would make `conn=$(scripts/postgres.sh | tail -1)` hang forever).
as_pg_detached() {
  (
    for fd_path in "/proc/$BASHPID/fd"/*; do
      fd=${fd_path##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && (( fd > 2 )); then eval "exec $fd>&-"; fi
    done
    exec runuser -u postgres -- "$@" </dev/null
  )
}

# postgres must be able to traverse every directory down to .data.
d=""
IFS=/ read -r -a parts <<<"${DATA#/}"
for part in "${parts[@]}"; do
  d="$d/$part"
  if ! as_pg test -x "$d"; then
    log "chmod o+x $d (so the postgres user can reach $DATA)"
    chmod o+x "$d"
  fi
done

if [[ ! -s $SUPERPW_FILE ]]; then
  [[ -f $PGDATA_DIR/PG_VERSION ]] && die "$PGDATA_DIR exists but $SUPERPW_FILE is missing; remove $PGDATA_DIR to recreate the cluster"
  log "generating superuser password in $SUPERPW_FILE"
  (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SUPERPW_FILE")
fi
chmod 600 "$SUPERPW_FILE"
SUPERPW=$(<"$SUPERPW_FILE")

mkdir -p "$PGDATA_DIR" "$SOCKET_DIR"
touch "$PG_LOG"
chown postgres:postgres "$PGDATA_DIR" "$SOCKET_DIR" "$PG_LOG"
chmod 700 "$PGDATA_DIR"
chmod 755 "$SOCKET_DIR"

if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
  if [[ -n $(ls -A "$PGDATA_DIR") ]]; then
    log "$PGDATA_DIR contains an incomplete cluster; wiping it"
    find "$PGDATA_DIR" -mindepth 1 -delete
  fi
  log "initialising cluster in $PGDATA_DIR"
  pwcopy=$(mktemp /tmp/pg-pw.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -f '$pwcopy'" EXIT
  printf '%s\n' "$SUPERPW" >"$pwcopy"
  chown postgres "$pwcopy"
  chmod 600 "$pwcopy"
  as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres --pwfile="$pwcopy" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 --no-instructions
  rm -f "$pwcopy"
  trap - EXIT
fi
[[ $(<"$PGDATA_DIR/PG_VERSION") == "$PG_MAJOR" ]] || die "$PGDATA_DIR is not a PostgreSQL $PG_MAJOR cluster"

# Our settings live in agentspace.conf, included from postgresql.conf.
socket_dirs=$SOCKET_DIR
if (( ${#SOCKET_DIR} + ${#PORT} + 11 > 100 )); then
  socket_dirs=""   # path too long for a unix socket; TCP only
fi
conf_file=$PGDATA_DIR/agentspace.conf
desired_conf="# Managed by scripts/postgres.sh - changes are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$socket_dirs'
max_connections = 300
shared_buffers = 128MB
# test-oriented durability trade-offs (never use for real data)
fsync = off
synchronous_commit = off
full_page_writes = off"
grep -q "^include_if_exists = 'agentspace.conf'" "$PGDATA_DIR/postgresql.conf" ||
  printf "\ninclude_if_exists = 'agentspace.conf'\n" >>"$PGDATA_DIR/postgresql.conf"
conf_changed=0
if [[ ! -f $conf_file || "$(<"$conf_file")" != "$desired_conf" ]]; then
  printf '%s\n' "$desired_conf" >"$conf_file"
  chown postgres:postgres "$conf_file"
  conf_changed=1
fi

pg_status=0
as_pg "$PGBIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1 || pg_status=$?
start_failed() {
  log "last lines of $PG_LOG:"
  tail -n 25 "$PG_LOG" >&2 || true
  die "could not $1 PostgreSQL (port $PORT busy? see $PG_LOG)"
}
if (( pg_status == 0 )); then
  if (( conf_changed )); then
    log "configuration changed; restarting cluster"
    as_pg_detached "$PGBIN/pg_ctl" restart -D "$PGDATA_DIR" -l "$PG_LOG" -m fast -w -t 60 -s || start_failed restart
  else
    log "cluster already running ($PGDATA_DIR, port $PORT); reusing it"
  fi
else
  log "starting cluster ($PGDATA_DIR, 127.0.0.1:$PORT, log $PG_LOG)"
  as_pg_detached "$PGBIN/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 -s || start_failed start
fi

# --------------------------------------------------------------------------- roles, db
su_psql() {
  PGPASSWORD=$SUPERPW PGCONNECT_TIMEOUT=10 PGOPTIONS='-c client_min_messages=warning' \
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"
}

su_psql -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_owner') THEN
    CREATE ROLE app_owner NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_provisioner') THEN
    CREATE ROLE app_provisioner NOLOGIN CREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER') THEN
    CREATE ROLE $APP_USER LOGIN NOINHERIT NOCREATEROLE PASSWORD '$APP_PASSWORD';
  END IF;
END
\$\$;
ALTER ROLE app_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
-- Creates and drops tenant roles, only through the SECURITY DEFINER functions db-init.sql defines.
-- Nobody logs in as it and nobody is a member of it.
ALTER ROLE app_provisioner NOLOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS;
DO \$\$
DECLARE m text;
BEGIN
  FOR m IN SELECT r.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member
           WHERE a.roleid = 'app_provisioner'::regrole LOOP
    EXECUTE format('REVOKE app_provisioner FROM %I', m);
  END LOOP;
END
\$\$;
-- NOCREATEROLE: on PostgreSQL 15 CREATEROLE would let the login role grant itself pg_read_server_files
-- or pg_execute_server_program. Clusters set up before this change lose the attribute here.
ALTER ROLE $APP_USER LOGIN NOINHERIT NOCREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '$APP_PASSWORD';
GRANT app_owner TO $APP_USER;
SELECT 'CREATE DATABASE $DB_NAME OWNER app_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME')
\gexec
ALTER DATABASE $DB_NAME OWNER TO app_owner;
SQL
su_psql -d "$DB_NAME" -f "$DB_INIT_SQL"

# --------------------------------------------------------------------------- outputs
APP_CONN="Host=127.0.0.1;Port=$PORT;Database=$DB_NAME;Username=$APP_USER;Password=$APP_PASSWORD"
ADMIN_CONN="Host=127.0.0.1;Port=$PORT;Database=postgres;Username=postgres;Password=$SUPERPW"
(
  umask 077
  printf "APP_CONNECTION='%s'\nADMIN_CONNECTION='%s'\n" "$APP_CONN" "$ADMIN_CONN" >"$ENV_FILE.tmp"
)
mv -f "$ENV_FILE.tmp" "$ENV_FILE"
log "PostgreSQL ready on 127.0.0.1:$PORT (database $DB_NAME); connection strings in $ENV_FILE"

printf '%s\n' "$APP_CONN" >&3
