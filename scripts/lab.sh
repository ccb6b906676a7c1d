#!/usr/bin/env bash
# The main job on the embedded default: prepare this machine, then bring up the `local`
# stack (this very host is the lab) and print its outputs.
#   npm run lab                 # setup + pulumi up --stack local --yes + outputs
#   npm run lab -- --stack perf # the same for another stack (Pulumi.<stack>.yaml)
# Extra arguments after --stack <name> go to `pulumi up`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stack=local
if [ "${1:-}" = --stack ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [--stack <name>] [pulumi up args...]" >&2; exit 2; }
  stack=$2
  shift 2
fi
bash "$repo/scripts/setup.sh"
cd "$repo"
bin=${VPL_BIN_DIR:-/usr/local/bin}
t0=$SECONDS
"$bin/pulumi" up --stack "$stack" --yes --skip-preview --non-interactive "$@"
echo "[lab] pulumi up --stack $stack finished in $((SECONDS - t0)) s; outputs:" >&2
"$bin/pulumi" stack output --stack "$stack" --json
report=$("$bin/pulumi" stack output --stack "$stack" report 2>/dev/null || true)
if [ -n "$report" ]; then
  echo "[lab] report: $report (npm run report -- --stack $stack rebuilds it and compares runs)" >&2
fi
