#!/usr/bin/env bash
# vhost-perf-lab wrapper: installed as `pulumi` on PATH by scripts/setup.sh.
# Runs the pinned Pulumi CLI with its language host and command provider next to it.
# Inside the vhost-perf-lab project (a Pulumi.yaml named vhost-perf-lab in the current
# directory) and only when you have not set them yourself, it also fills in
#   PULUMI_CONFIG_PASSPHRASE_FILE  -> $vpl_home/passphrase (created by setup)
#   PULUMI_NODEJS_TRANSPILE_ONLY   -> true (`npm test` type-checks; this saves ~15 s a run)
# Everywhere it sets PULUMI_SKIP_UPDATE_CHECK (the toolchain is pinned), turns a missing
# plugin into an error instead of a download attempt, and uses the PULUMI_HOME setup ran with
# (where the command provider is registered) unless you set one.
#
# setup.sh writes the settings below in place of the @SETTINGS@ line, shell-quoted:
#   toolchain    directory of the pinned CLI and its language host
#   vpl_home     the project's state dir (passphrase file)
#   pulumi_home  PULUMI_HOME during setup ("" = Pulumi's default, ~/.pulumi)
set -euo pipefail
# @SETTINGS@
: "${toolchain:?written by scripts/setup.sh}" "${vpl_home:?written by scripts/setup.sh}"
pulumi_home=${pulumi_home:-}
export PATH="$toolchain:$PATH"
if [ -n "$pulumi_home" ] && [ -z "${PULUMI_HOME:-}" ]; then
  export PULUMI_HOME="$pulumi_home"
fi
export PULUMI_SKIP_UPDATE_CHECK=${PULUMI_SKIP_UPDATE_CHECK:-true}
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}
if [ -f Pulumi.yaml ] && grep -q '^name: vhost-perf-lab$' Pulumi.yaml; then
  export PULUMI_NODEJS_TRANSPILE_ONLY=${PULUMI_NODEJS_TRANSPILE_ONLY:-true}
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ -f "$vpl_home/passphrase" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE="$vpl_home/passphrase"
  fi
fi
exec "$toolchain/pulumi" "$@"
