#!/usr/bin/env bash
# Adds an EF Core migration for one context and keeps every file under migrations/<Platform|Tenant>.
# Usage: scripts/add-migration.sh Platform|Tenant <MigrationName>
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?Platform or Tenant}; name=${2:?migration name}
case "$kind" in Platform|Tenant) ;; *) echo "first argument must be Platform or Tenant" >&2; exit 2;; esac
dotnet tool restore >/dev/null
dotnet ef migrations add "$name" --project App --context "${kind}DbContext" \
  --output-dir "../migrations/$kind" --namespace "AgentSpace.Migrations.$kind"
# dotnet-ef writes the model snapshot under App/ when the output folder is outside the project.
shopt -s nullglob globstar
for f in App/**/"${kind}DbContextModelSnapshot.cs"; do mv "$f" "migrations/$kind/"; done
find App -depth -type d -empty -not -path '*/obj*' -not -path '*/bin*' -delete 2>/dev/null || true
