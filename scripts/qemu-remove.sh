#!/usr/bin/env bash
# Teardown for scripts/qemu-build.sh on the DUT (root). Idempotent; prints ONE JSON line:
#   {"prefix": "...", "removedPrefix": true|false, "removedDirs": [...],
#    "debSrc": "removed"|"handed-over"|"kept"|"none", "debSrcTo": "<stack>"|null,
#    "removedDebSrc": true|false, "removedWorkDir": true|false, "installedPackages": [...],
#    "notes": [...]}
# Inputs (environment):
#   LAB_STACK, LAB_STATE_DIR  from the step wrapper (required); LAB_STATE_ROOT [dirname of
#                         LAB_STATE_DIR]. The stack's records are in $LAB_STATE_DIR/qemu (see
#                         qemu-build.sh); what they list is removed, then the records, then the
#                         dir when it is empty.
#   QEMU_PREFIX           install prefix to remove; removed only if it holds this project's
#                         stamp (vhost-perf-lab-qemu.stamp), then the parent directories the
#                         build recorded as created, while they are empty; a level that still
#                         holds another stack's prefix is handed over to that stack's record
#                         (appended as created=), so the last stack out removes it. Unset =
#                         leave prefixes alone.
#   QEMU_REMOVE_WORK_DIR  1 = also remove QEMU_WORK_DIR (downloads, trees, logs, build cache).
#                         Default 0.
#   QEMU_WORK_DIR         default /var/cache/vhost-perf-lab/qemu-build
#   QEMU_DEB_SRC_FILE     [/etc/apt/sources.list.d/vhost-perf-lab-src.sources] (tests only)
# When the stack's last prefix is gone:
#   - the deb-src file (host-global): if this stack created it and another stack's record
#     ($LAB_STATE_ROOT/*/qemu/deb-src) lists it, it is handed over to that stack (its record
#     becomes role=created, from=<this stack>), which then removes it in turn; if none lists
#     it, it is removed. A stack that only used it drops its record and leaves the file.
#   - packages qemu-build.sh installed are reported ("installedPackages") and their record is
#     dropped; they are never purged (other lab parts may use them).
# Exit codes: 0 done; 1 failed (nothing half-removed is left unrecorded: the records of what
#   is still there stay).
set -euo pipefail
export LC_ALL=C

readonly SCRIPT=qemu-remove
readonly STAMP_NAME=vhost-perf-lab-qemu.stamp
readonly STAMP_MAGIC='# vhost-perf-lab qemu-build stamp v1'
readonly SRC_LIST=${QEMU_DEB_SRC_FILE:-/etc/apt/sources.list.d/vhost-perf-lab-src.sources}

say() { printf '[%s %ds] %s\n' "$SCRIPT" "$SECONDS" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
# shellcheck source-path=SCRIPTDIR source=lib/qemu-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/qemu-common.sh"

QEMU_PREFIX=${QEMU_PREFIX:-}
QEMU_REMOVE_WORK_DIR=${QEMU_REMOVE_WORK_DIR:-0}
QEMU_WORK_DIR=${QEMU_WORK_DIR:-/var/cache/vhost-perf-lab/qemu-build}

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -z "$QEMU_PREFIX" ] || check_dir_var QEMU_PREFIX "$QEMU_PREFIX"
check_dir_var QEMU_WORK_DIR "$QEMU_WORK_DIR"
check_lab_state
check_dir_var QEMU_DEB_SRC_FILE "$SRC_LIST"
STATE=$LAB_STATE_DIR/qemu
QEMU_PREFIX=${QEMU_PREFIX%/}
QEMU_WORK_DIR=${QEMU_WORK_DIR%/}

removed_prefix=false removed_deb_src=false removed_work_dir=false deb_src=none deb_src_to=""
removed_dirs=()
notes=()

# Do not pull a prefix or the sources out from under a build in progress.
if [ -d "$QEMU_WORK_DIR" ]; then
  exec 9>"$QEMU_WORK_DIR/.lock"
  flock -w 600 9 || die "a qemu-build still holds $QEMU_WORK_DIR/.lock after 600 s"
fi

if [ -n "$QEMU_PREFIX" ]; then
  record=$STATE/prefix-$(printf '%s' "$QEMU_PREFIX" | sha256sum | cut -c1-12)
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
  if [ -f "$record" ] && [ ! -e "$QEMU_PREFIX" ]; then
    # the levels above the prefix that the build made, deepest first, while empty
    mapfile -t levels < <(sed -n 's/^created=//p' -- "$record")
    for ((i = 0; i < ${#levels[@]}; i++)); do
      d=${levels[$i]}
      [ -d "$d" ] || continue
      if rmdir -- "$d" 2>/dev/null; then
        removed_dirs+=("$d")
        say "removed $d (created by qemu-build.sh)"
        continue
      fi
      # Not empty: another stack's prefix below it? Then that stack removes it (and the levels
      # above) when it goes: append them to its record.
      heir=""
      for r in "$LAB_STATE_ROOT"/*/qemu/prefix-*; do
        if [ ! -f "$r" ] || [ "$r" -ef "$record" ]; then continue; fi
        case "$(sed -n 's/^prefix=//p' -- "$r" | head -n 1)" in "$d"/*) heir=$r && break ;; esac
      done
      if [ -n "$heir" ]; then
        for ((j = i; j < ${#levels[@]}; j++)); do
          grep -qxF -- "created=${levels[$j]}" "$heir" || printf 'created=%s\n' "${levels[$j]}" >>"$heir"
        done
        notes+=("$d holds another stack's QEMU: handed over to $heir")
      else
        notes+=("$d (created by qemu-build.sh) is not empty: left in place")
      fi
      say "${notes[-1]}"
      break
    done
    rm -f -- "$record"
  fi
fi

installed=()
# Host-wide things and the package record go with the stack's last prefix.
if [ -d "$STATE" ] && ! compgen -G "$STATE/prefix-*" >/dev/null; then
  if [ -f "$STATE/deb-src" ]; then
    role=$(sed -n 's/^role=//p' -- "$STATE/deb-src" | head -n 1)
    file=$(sed -n 's/^file=//p' -- "$STATE/deb-src" | head -n 1)
    [ -n "$file" ] || file=$SRC_LIST
    if [ "$role" = created ]; then
      heir=""
      for r in "$LAB_STATE_ROOT"/*/qemu/deb-src; do
        if [ ! -f "$r" ] || [ "$r" -ef "$STATE/deb-src" ]; then continue; fi
        if grep -qxF -- "file=$file" "$r"; then
          heir=$r
          break
        fi
      done
      if [ -n "$heir" ]; then
        deb_src_to=$(basename -- "$(dirname -- "$(dirname -- "$heir")")")
        printf 'file=%s\nrole=created\nfrom=%s\n' "$file" "$LAB_STACK" >"$heir.tmp"
        mv -- "$heir.tmp" "$heir"
        deb_src=handed-over
        notes+=("$file is still used by stack $deb_src_to: handed over to it ($heir), not removed")
        say "${notes[-1]}"
      elif [ -f "$file" ]; then
        say "removing $file (added by qemu-build.sh for this stack)"
        rm -f -- "$file"
        removed_deb_src=true
        deb_src=removed
        notes+=("apt lists of the removed deb-src entries go at the next apt-get update")
      else
        deb_src=removed
      fi
    else
      deb_src=kept
      say "$file was added by another stack: left to it"
    fi
    rm -f -- "$STATE/deb-src"
  fi
  if [ -f "$STATE/installed-packages" ]; then
    mapfile -t installed < <(sort -u -- "$STATE/installed-packages")
    rm -f -- "$STATE/installed-packages"
  fi
  rmdir -- "$STATE" 2>/dev/null || notes+=("$STATE holds more than qemu-build.sh's records: left in place")
fi

if [ "$QEMU_REMOVE_WORK_DIR" = 1 ] && [ -d "$QEMU_WORK_DIR" ]; then
  say "removing $QEMU_WORK_DIR"
  exec 9>&-
  rm -rf -- "$QEMU_WORK_DIR"
  removed_work_dir=true
fi

python3 - "$QEMU_PREFIX" "$removed_prefix" "$removed_deb_src" "$removed_work_dir" "$deb_src" \
  "$deb_src_to" "${#removed_dirs[@]}" "${removed_dirs[@]}" "${#installed[@]}" "${installed[@]}" \
  "${notes[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
nd = int(a[6])
dirs = a[7:7 + nd]
rest = a[7 + nd:]
ni = int(rest[0])
print(json.dumps({
    "prefix": a[0], "removedPrefix": a[1] == "true", "removedDirs": dirs,
    "debSrc": a[4], "debSrcTo": a[5] or None, "removedDebSrc": a[2] == "true",
    "removedWorkDir": a[3] == "true", "installedPackages": rest[1:1 + ni], "notes": rest[1 + ni:],
}))
PY
