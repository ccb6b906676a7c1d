#!/usr/bin/env bash
# vhost-perf-lab wrapper: installed as `pulumi` on PATH by scripts/setup.sh.
# Runs the pinned Pulumi CLI with its language host and command provider next to it.
# Inside the vhost-perf-lab project (a Pulumi.yaml named vhost-perf-lab in the current
# directory) and only when you have not set them yourself, it also fills in
#   PULUMI_CONFIG_PASSPHRASE_FILE  -> @VPL_HOME@/passphrase (created by setup)
#   PULUMI_NODEJS_TRANSPILE_ONLY   -> true (`npm test` type-checks; this saves ~15 s a run)
# Everywhere it sets PULUMI_SKIP_UPDATE_CHECK (the toolchain is pinned) and turns a missing
# plugin into an error instead of a download attempt.
set -euo pipefail
toolchain=@TOOLCHAIN_DIR@
export PATH="$toolchain:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=${PULUMI_SKIP_UPDATE_CHECK:-true}
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}
if [ -f Pulumi.yaml ] && grep -q '^name: vhost-perf-lab$' Pulumi.yaml; then
  export PULUMI_NODEJS_TRANSPILE_ONLY=${PULUMI_NODEJS_TRANSPILE_ONLY:-true}
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ -f "@VPL_HOME@/passphrase" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE="@VPL_HOME@/passphrase"
  fi
fi
exec "$toolchain/pulumi" "$@"
