#!/usr/bin/env bash
# The test command: prepare this machine the same way as the lab (scripts/setup.sh), then
# type-check, lint, shellcheck, and run every test with node's test runner (which prints
# its counts), including the end-to-end test of the local lab (tests/e2e.test.ts: up,
# outputs, idempotent up, destroy, machine clean; minutes with warm caches).
# VPL_E2E=0 skips it. Extra arguments are passed to `node --test` (e.g. a single build/ file).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/setup.sh"
cd "$repo"
bin=${VPL_BIN_DIR:-/usr/local/bin}
export PATH="$bin:$PATH"
export VPL_E2E=${VPL_E2E:-1}
echo "[test] tsc" >&2
rm -rf build
npx tsc -p tsconfig.json
echo "[test] eslint + prettier" >&2
npx eslint .
npx prettier --check . >/dev/null
echo "[test] shellcheck scripts/" >&2
shellcheck -x scripts/*.sh scripts/lib/*.sh .ci/run
# One test file at a time: several of them change this machine for real (the local lab, the
# datapath, the tuning scripts) and the e2e test compares the machine before and after.
echo "[test] node --test" >&2
if [ $# -gt 0 ]; then
  exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 build/
