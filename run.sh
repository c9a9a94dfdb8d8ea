#!/usr/bin/env bash
# Starts the app for local development:
#   1. scripts/postgres.sh  (private PostgreSQL cluster in .data/pg, idempotent)
#   2. dotnet run --project App -c Release -- migrate
#   3. the app on http://127.0.0.1:${PORT:-5080} (ASPNETCORE_ENVIRONMENT=Development)
set -euo pipefail

die() { printf '[run.sh] ERROR: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"
PORT=${PORT:-5080}
[[ $PORT =~ ^[0-9]+$ ]] || die "invalid PORT '$PORT'"

command -v dotnet >/dev/null 2>&1 ||
  die "'dotnet' was not found on PATH. Install the .NET 10 SDK (https://dotnet.microsoft.com/download) and retry."
[[ -f App/App.csproj ]] || die "App/App.csproj not found in $ROOT"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

conn=$(scripts/postgres.sh | tail -n 1)
[[ $conn == Host=* ]] || die "scripts/postgres.sh did not print a connection string (got: '$conn')"
export ConnectionStrings__Default=$conn
export ASPNETCORE_ENVIRONMENT=Development

# The credentials vault's master key for this checkout, made once (owner-only) and kept in .data/.
if [[ -z ${Vault__MasterKey:-} && -z ${Vault__MasterKeyFile:-} ]]; then
  key_file=$ROOT/.data/vault-master.key
  if [[ ! -s $key_file ]]; then
    mkdir -p "$ROOT/.data"
    (umask 077 && head -c 32 /dev/urandom | base64 >"$key_file.tmp" && mv -n "$key_file.tmp" "$key_file")
    rm -f "$key_file.tmp"
    echo "[run.sh] created the development vault key $key_file"
  fi
  export Vault__MasterKeyFile=$key_file
fi

echo "[run.sh] applying database migrations"
dotnet run --project App -c Release --no-launch-profile -- migrate

mkdir -p "$ROOT/.data/mail"
echo "Sign-in links are written to $ROOT/.data/mail/*.eml and to this log (Development)"
echo "[run.sh] starting the app on http://127.0.0.1:$PORT (Ctrl+C to stop)"
# Already built in Release by the migrate step above.
exec dotnet run --project App -c Release --no-build --no-launch-profile --urls "http://127.0.0.1:$PORT"
