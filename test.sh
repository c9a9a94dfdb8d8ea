#!/usr/bin/env bash
# Runs all test projects against the private PostgreSQL cluster (scripts/postgres.sh).
# Prints "<project>: N passed, N failed, N skipped" per project, the elapsed time, and as the
# very last line the totals "N passed, N failed, N skipped". Exits non-zero if the build
# failed, any project failed, or a project produced no .trx results.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"
START=$SECONDS
TEST_PROJECTS=(App.Tests App.E2E)
RESULTS_ROOT=$ROOT/.data/test-results

log() { printf '[test.sh] %s\n' "$*"; }
die() { printf '[test.sh] ERROR: %s\n' "$*" >&2; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ---------------------------------------------------------------- prerequisites
command -v dotnet >/dev/null 2>&1 ||
  die "'dotnet' was not found on PATH. Install the .NET 10 SDK and retry."

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
# aiosmtpd: SMTP sink for e-mail tests. poppler-utils: pdftotext reads the exported PDFs. chromium (+ fonts): browser for Playwright tests;
# Playwright's own browser download (`playwright install`) is never used.
missing=()
for p in python3-aiosmtpd chromium fonts-liberation poppler-utils; do is_installed "$p" || missing+=("$p"); done
if (( ${#missing[@]} )); then
  [[ $EUID -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them with apt-get"
  log "installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
CHROMIUM_PATH=$(command -v chromium || true)
export CHROMIUM_PATH

# ---------------------------------------------------------------- database
scripts/postgres.sh >/dev/null
[[ -f .data/pg.env ]] || die ".data/pg.env was not written by scripts/postgres.sh"
# shellcheck disable=SC1091
. .data/pg.env
export APP_CONNECTION ADMIN_CONNECTION

# ---------------------------------------------------------------- build + test
failed_any=0
build_ok=1
log "dotnet build Blazor.sln -c Release"
if ! dotnet build Blazor.sln -c Release; then
  build_ok=0
  failed_any=1
  log "BUILD FAILED - tests not run"
fi

# Reads one numeric attribute of the <Counters .../> element of a .trx file (0 if absent).
counter() {
  local re="(^|[[:space:]])$1=\"([0-9]+)\""
  if [[ $counters =~ $re ]]; then echo "${BASH_REMATCH[2]}"; else echo 0; fi
}

find_project() {
  local name=$1
  if [[ -f $name/$name.csproj ]]; then echo "$name/$name.csproj"; return; fi
  find . -path ./.data -prune -o -name "$name.csproj" -print | head -n 1
}

total_passed=0 total_failed=0 total_skipped=0
summary=()
for name in "${TEST_PROJECTS[@]}"; do
  if (( ! build_ok )); then
    summary+=("$name: not run (build failed)")
    continue
  fi
  proj=$(find_project "$name")
  if [[ -z $proj ]]; then
    summary+=("$name: project $name.csproj not found")
    failed_any=1
    continue
  fi
  resdir=$RESULTS_ROOT/$name
  trx=$resdir/$name.trx
  rm -rf "$resdir"
  log "dotnet test $proj"
  rc=0
  dotnet test "$proj" -c Release --no-build \
    --logger "trx;LogFileName=$name.trx" --results-directory "$resdir" || rc=$?

  if [[ ! -f $trx ]]; then
    summary+=("$name: no results ($trx missing; dotnet test exit code $rc)")
    failed_any=1
    continue
  fi
  counters=$(tr '\n\r' '  ' <"$trx" | sed -n 's/.*<Counters \([^>]*\)>.*/\1/p')
  if [[ -z $counters ]]; then
    summary+=("$name: no <Counters> element in $trx (dotnet test exit code $rc)")
    failed_any=1
    continue
  fi
  total=$(counter total)
  passed=$(counter passed)
  failed=$(( $(counter failed) + $(counter error) + $(counter timeout) + $(counter aborted) ))
  skipped=$(( total - passed - failed ))
  (( skipped >= 0 )) || skipped=0
  total_passed=$(( total_passed + passed ))
  total_failed=$(( total_failed + failed ))
  total_skipped=$(( total_skipped + skipped ))
  line="$name: $passed passed, $failed failed, $skipped skipped"
  if (( failed > 0 )); then
    failed_any=1
  elif (( rc != 0 )); then
    failed_any=1
    line+=" (dotnet test exit code $rc)"
  fi
  summary+=("$line")
done

echo
echo "==================== test summary ===================="
printf '%s\n' "${summary[@]}"
elapsed=$(( SECONDS - START ))
printf 'Elapsed: %dm%02ds\n' $(( elapsed / 60 )) $(( elapsed % 60 ))
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$failed_any"
