#!/usr/bin/env bash
# Teardown for scripts/qemu-build.sh on the DUT (root). Idempotent; prints ONE JSON line:
#   {"prefix": "...", "removedPrefix": true|false, "removedDebSrc": true|false,
#    "removedWorkDir": true|false, "installedPackages": [...], "notes": [...]}
# Inputs (environment):
#   QEMU_PREFIX           install prefix to remove; removed only if it holds this project's
#                         stamp (vhost-perf-lab-qemu.stamp). Unset = leave prefixes alone.
#   QEMU_REMOVE_DEB_SRC   1 (default) = remove /etc/apt/sources.list.d/vhost-perf-lab-src.sources
#                         if qemu-build.sh recorded adding it. Set 0 while other prefixes
#                         built from the Debian source are still meant to be rebuilt.
#   QEMU_REMOVE_WORK_DIR  1 = also remove QEMU_WORK_DIR (downloads, trees, logs). Default 0.
#   QEMU_WORK_DIR         default /var/cache/vhost-perf-lab/qemu-build
#   QEMU_STATE_DIR        default /var/lib/vhost-perf-lab/qemu
# Packages that qemu-build.sh installed are only reported ("installedPackages", from
# $QEMU_STATE_DIR/installed-packages), never purged: other lab parts may use them.
set -euo pipefail
export LC_ALL=C

readonly SCRIPT=qemu-remove
readonly STAMP_NAME=vhost-perf-lab-qemu.stamp
readonly STAMP_MAGIC='# vhost-perf-lab qemu-build stamp v1'
readonly SRC_LIST=/etc/apt/sources.list.d/vhost-perf-lab-src.sources

say() { printf '[%s %ds] %s\n' "$SCRIPT" "$SECONDS" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

QEMU_PREFIX=${QEMU_PREFIX:-}
QEMU_REMOVE_DEB_SRC=${QEMU_REMOVE_DEB_SRC:-1}
QEMU_REMOVE_WORK_DIR=${QEMU_REMOVE_WORK_DIR:-0}
QEMU_WORK_DIR=${QEMU_WORK_DIR:-/var/cache/vhost-perf-lab/qemu-build}
QEMU_STATE_DIR=${QEMU_STATE_DIR:-/var/lib/vhost-perf-lab/qemu}

[ "$(id -u)" -eq 0 ] || die "must run as root"
check_dir_var() { # <name> <value>: absolute, not /, no . or .. component
  case "$2" in
    /*) ;;
    *) die "$1 must be an absolute path (got '$2')" ;;
  esac
  case "/$2/" in
    */../* | */./*) die "$1 must not contain . or .. components (got '$2')" ;;
  esac
  [ "${2%/}" != "" ] || die "$1 must not be /"
}
[ -z "$QEMU_PREFIX" ] || check_dir_var QEMU_PREFIX "$QEMU_PREFIX"
check_dir_var QEMU_WORK_DIR "$QEMU_WORK_DIR"
check_dir_var QEMU_STATE_DIR "$QEMU_STATE_DIR"
QEMU_PREFIX=${QEMU_PREFIX%/}
QEMU_WORK_DIR=${QEMU_WORK_DIR%/}

removed_prefix=false removed_deb_src=false removed_work_dir=false
notes=()

# Do not pull a prefix or the sources out from under a build in progress.
if [ -d "$QEMU_WORK_DIR" ]; then
  exec 9>"$QEMU_WORK_DIR/.lock"
  flock -w 600 9 || die "a qemu-build still holds $QEMU_WORK_DIR/.lock after 600 s"
fi

if [ -n "$QEMU_PREFIX" ]; then
  if [ ! -e "$QEMU_PREFIX" ]; then
    say "$QEMU_PREFIX: already gone"
  elif [ -f "$QEMU_PREFIX/$STAMP_NAME" ] &&
    [ "$(head -n 1 -- "$QEMU_PREFIX/$STAMP_NAME")" = "$STAMP_MAGIC" ]; then
    say "removing $QEMU_PREFIX"
    rm -rf -- "$QEMU_PREFIX"
    removed_prefix=true
  else
    notes+=("$QEMU_PREFIX has no $STAMP_NAME: not this project's build, left in place")
    say "${notes[-1]}"
  fi
  # Leftover staging dirs of an interrupted install (qemu-build.sh removes them itself).
  for s in "$QEMU_PREFIX".staging-*; do
    [ -d "$s" ] || continue
    rm -rf -- "$s"
    say "removed leftover $s"
  done
fi

if [ "$QEMU_REMOVE_DEB_SRC" = 1 ]; then
  if [ -f "$QEMU_STATE_DIR/added-deb-src" ]; then
    if [ -f "$SRC_LIST" ]; then
      say "removing $SRC_LIST (added by qemu-build.sh)"
      rm -f -- "$SRC_LIST"
      removed_deb_src=true
      notes+=("apt lists of the removed deb-src entries go at the next apt-get update")
    fi
    rm -f -- "$QEMU_STATE_DIR/added-deb-src"
  elif [ -f "$SRC_LIST" ]; then
    notes+=("$SRC_LIST exists but was not recorded as added by qemu-build.sh: left in place")
    say "${notes[-1]}"
  fi
fi

installed=()
if [ -f "$QEMU_STATE_DIR/installed-packages" ]; then
  mapfile -t installed < <(sort -u -- "$QEMU_STATE_DIR/installed-packages")
fi

if [ "$QEMU_REMOVE_WORK_DIR" = 1 ] && [ -d "$QEMU_WORK_DIR" ]; then
  say "removing $QEMU_WORK_DIR"
  exec 9>&-
  rm -rf -- "$QEMU_WORK_DIR"
  removed_work_dir=true
fi

python3 - "$QEMU_PREFIX" "$removed_prefix" "$removed_deb_src" "$removed_work_dir" \
  "${#installed[@]}" "${installed[@]}" "${notes[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
n = int(a[4])
print(json.dumps({
    "prefix": a[0], "removedPrefix": a[1] == "true", "removedDebSrc": a[2] == "true",
    "removedWorkDir": a[3] == "true", "installedPackages": a[5:5 + n], "notes": a[5 + n:],
}))
PY
