#!/usr/bin/env bash
# Build QEMU (x86_64 system emulator) from source on the DUT, optionally patched, into an
# install prefix of its own, and print the result as ONE JSON line on stdout:
#   {"binary": "<prefix>/bin/qemu-system-x86_64", "version": "<first line of --version>",
#    "prefix": "...", "patches": ["0001-....patch", ...], "built": true|false,
#    "seconds": N, "installedPackages": [...], "sourceKind": "...", "source": "...",
#    "addedDebSrc": true|false, "log": "..."}
# "built": false means an existing build in the prefix matched the inputs and was reused, or
# was restored from the build cache ("restored": true).
# Progress goes to stderr ("[qemu-build 12s] ..."), long command output to the log file.
# Runs as root (apt, /opt). Needs bash, coreutils, flock, python3 (for the JSON line).
#
# Inputs (environment):
#   LAB_STACK, LAB_STATE_DIR  from the step wrapper (required): the stack's name and its record
#                         dir; this script records in $LAB_STATE_DIR/qemu what it changed on the
#                         host (see "Records" below). LAB_STATE_ROOT [dirname of LAB_STATE_DIR]:
#                         where the other stacks' records are.
#   QEMU_PREFIX           required. Install prefix, e.g. /opt/vhost-perf-lab/qemu/<stack>/7.2-<key>.
#                         The caller computes <key> from version + patch set + flags; this
#                         script only reuses a prefix whose stamp matches the inputs below
#                         and rebuilds (replacing it) when they differ. A non-empty prefix
#                         without this project's stamp is never touched (error). The parent
#                         directories it has to create are recorded, and qemu-remove.sh
#                         removes them again when they are empty.
#   QEMU_SOURCE_KIND      debian (default) | tarball | local
#   QEMU_DEBIAN_VERSION   debian: source version, e.g. 1:7.2+dfsg-7+deb12u18. Default: the
#                         highest version the configured deb-src offers, resolved at build
#                         time (the stamp then records "candidate": pin the version to get a
#                         rebuild when the archive moves on).
#   QEMU_TARBALL_URL      tarball: URL of a qemu-X.Y.Z.tar.xz (downloaded with curl/wget)
#   QEMU_TARBALL_SHA256   tarball: its sha256, verified before use (required)
#   QEMU_LOCAL_TARBALL    local: path of a QEMU source tarball already on the DUT
#   QEMU_LOCAL_TARBALL_SHA256  local: its sha256, verified before use (required)
#   QEMU_PATCH_DIR        optional. Directory of *.patch files applied in lexical order with
#                         `patch -p1 --forward --fuzz=0`; any patch that does not apply
#                         cleanly is an error naming it. Unset/empty = no patches.
#   QEMU_CONFIGURE_FLAGS  default "--target-list=x86_64-softmmu --disable-docs --enable-slirp".
#                         Split on whitespace into words (no quoting, no globbing, no eval);
#                         --prefix is set by this script and must not appear here. For the
#                         Debian source, --firmwarepath=/usr/share/qemu:/usr/share/seabios:
#                         /usr/lib/ipxe/qemu is added unless given: Debian's +dfsg source
#                         ships no firmware blobs (and skips pc-bios/ in meson), so BIOS,
#                         option ROMs and linuxboot_dma.bin come from the packages
#                         qemu-system-data, seabios and ipxe-qemu, as for Debian's own QEMU.
#   QEMU_WORK_DIR         default /var/cache/vhost-perf-lab/qemu-build: downloads, source
#                         trees, logs, lock. Removed only by qemu-remove.sh with
#                         QEMU_REMOVE_WORK_DIR=1.
#   QEMU_MAKE_JOBS        default $(nproc)
#   QEMU_DIST_CACHE       1 (default) = keep each finished install as dist-<content key>.tar in
#                         QEMU_WORK_DIR and restore a prefix from it instead of rebuilding;
#                         0 = always build. The content key leaves the prefix out, so any
#                         stack's prefix is restored from the same tar: QEMU's install is
#                         relocatable (it finds its data dir relative to its binary); a smoke
#                         test of the restored binary at its new place, without -L, proves it,
#                         else the restore is dropped and QEMU is built.
#   QEMU_KEEP_BUILD_TREE  1 = keep the unpacked source + build tree after install
#                         (default 0: removed once installed; downloads are always kept)
#   QEMU_DEB_SRC_FILE     [/etc/apt/sources.list.d/vhost-perf-lab-src.sources] the deb-src file
#                         this script may add (tests point it elsewhere)
#
# Records in $LAB_STATE_DIR/qemu (removed by qemu-remove.sh; the dir goes when it is empty):
#   prefix-<sha256(prefix):12>  prefix=<path>, then created=<dir> per parent level this stack made
#   deb-src                     file=<path>, role=created (this stack added it) or uses (another
#                               stack added it and this stack built from it); from=<stack> when
#                               handed over
#   installed-packages          build dependencies apt-get installed for this stack (never purged)
# A build that fails or is interrupted (SIGTERM/SIGINT) undoes what it changed first: the
# deb-src file it added, the directories it created, its records; packages stay installed.
#
# Debian source: if no deb-src entry is configured, one is added for every mirror/suite the
# host's deb entries use, in QEMU_DEB_SRC_FILE, recorded as role=created in the stack's
# deb-src record. The file is host-global: a stack that builds from it while another
# stack's record lists it records role=uses; qemu-remove.sh of the creating stack hands the
# file over to such a stack instead of removing it (the last one removes it).
# `apt-get update` runs only when a deb-src entry was added or the wanted version is not in
# the lists. Build dependencies that are missing are installed with apt-get (as CSIT does
# on a lab DUT); they are listed in the JSON and in the stack's installed-packages record.
# Exit codes: 0 built, reused or restored; 1 failed (undone as above); 130/143 interrupted.
set -euo pipefail
export LC_ALL=C
umask 022

readonly SCRIPT=qemu-build
readonly STAMP_NAME=vhost-perf-lab-qemu.stamp
readonly STAMP_MAGIC='# vhost-perf-lab qemu-build stamp v1'
readonly SRC_LIST=${QEMU_DEB_SRC_FILE:-/etc/apt/sources.list.d/vhost-perf-lab-src.sources}
readonly DEFAULT_FLAGS='--target-list=x86_64-softmmu --disable-docs --enable-slirp'
readonly DEBIAN_FIRMWAREPATH=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
# Firmware for a build of Debian's source (see QEMU_CONFIGURE_FLAGS above).
readonly DEBIAN_FIRMWARE_PKGS=(qemu-system-data seabios ipxe-qemu)
# What a QEMU 7.2 build with the default flags needs; meson and ninja from the system
# (Debian's +dfsg source has no bundled meson), python3-venv for newer QEMU.
readonly BUILD_DEPS=(build-essential pkg-config python3 python3-venv ninja-build meson
  libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev zlib1g-dev flex bison xz-utils
  bzip2 patch)

LOG=/dev/null
STAGE=""

say() { printf '[%s %ds] %s\n' "$SCRIPT" "$SECONDS" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
# shellcheck source-path=SCRIPTDIR source=lib/qemu-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/qemu-common.sh"

# What this run changed, undone when it fails or is interrupted (undo_run).
RUN_ADDED_DEB_SRC=0 # the deb-src file and its record
RUN_USES_DEB_SRC=0  # a role=uses record
RUN_CREATED_DIRS=() # parent levels of the prefix, deepest first
RUN_PREFIX_RECORD="" # the prefix record, when this run wrote it
RUN_DONE=0
undo_run() {
  local d
  trap '' TERM INT
  if [ -n "$STAGE" ] && [ -d "$STAGE" ]; then rm -rf -- "$STAGE"; fi
  [ "$RUN_DONE" = 0 ] || return 0
  RUN_DONE=1
  if [ "$RUN_ADDED_DEB_SRC" = 1 ]; then
    rm -f -- "$SRC_LIST" "$SRC_LIST.tmp" "$STATE/deb-src"
    say "undo: removed $SRC_LIST (added by this run)"
  fi
  if [ "$RUN_USES_DEB_SRC" = 1 ]; then rm -f -- "$STATE/deb-src"; fi
  if [ -n "$RUN_PREFIX_RECORD" ] && [ ! -e "$QEMU_PREFIX" ]; then
    for d in "${RUN_CREATED_DIRS[@]}"; do
      rmdir -- "$d" 2>/dev/null || break
      say "undo: removed $d (created by this run)"
    done
    rm -f -- "$RUN_PREFIX_RECORD"
  fi
  if [ -f "$STATE/installed-packages" ] && ! compgen -G "$STATE/prefix-*" >/dev/null; then
    say "packages installed for this stack stay installed (never purged): $(sort -u -- "$STATE/installed-packages" | tr '\n' ' ')"
    rm -f -- "$STATE/installed-packages"
  fi
  rmdir -- "$STATE" 2>/dev/null || true
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    undo_run
    if [ "$LOG" != /dev/null ]; then say "failed (exit $rc); log: $LOG"; fi
  elif [ -n "$STAGE" ] && [ -d "$STAGE" ]; then
    rm -rf -- "$STAGE"
  fi
}
on_signal() { # signal-name exit-code
  say "ERROR: interrupted by SIG$1: undoing this run's changes"
  exit "$2" # the EXIT trap undoes
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# run <what> <cmd...>: command output to the log; on failure, its tail on stderr.
run() {
  local what=$1 rc=0
  shift
  printf '\n### %s: %s\n' "$what" "$*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 25 "$LOG" | sed 's/^/    /' >&2
    die "$what failed (exit $rc): $*"
  fi
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

check_sha256() { # <file> <expected>
  local got
  got=$(sha256_of "$1")
  [ "$got" = "${2,,}" ] || die "sha256 mismatch for $1: expected $2, got $got"
}

# ---------------------------------------------------------------- inputs
QEMU_PREFIX=${QEMU_PREFIX:-}
QEMU_SOURCE_KIND=${QEMU_SOURCE_KIND:-debian}
QEMU_DEBIAN_VERSION=${QEMU_DEBIAN_VERSION:-}
QEMU_TARBALL_URL=${QEMU_TARBALL_URL:-}
QEMU_TARBALL_SHA256=${QEMU_TARBALL_SHA256:-}
QEMU_LOCAL_TARBALL=${QEMU_LOCAL_TARBALL:-}
QEMU_LOCAL_TARBALL_SHA256=${QEMU_LOCAL_TARBALL_SHA256:-}
QEMU_PATCH_DIR=${QEMU_PATCH_DIR:-}
QEMU_CONFIGURE_FLAGS=${QEMU_CONFIGURE_FLAGS:-$DEFAULT_FLAGS}
QEMU_WORK_DIR=${QEMU_WORK_DIR:-/var/cache/vhost-perf-lab/qemu-build}
QEMU_MAKE_JOBS=${QEMU_MAKE_JOBS:-$(nproc)}
QEMU_KEEP_BUILD_TREE=${QEMU_KEEP_BUILD_TREE:-0}

[ "$(id -u)" -eq 0 ] || die "must run as root"

[ -n "$QEMU_PREFIX" ] || die "QEMU_PREFIX is required"
check_dir_var QEMU_PREFIX "$QEMU_PREFIX"
check_dir_var QEMU_WORK_DIR "$QEMU_WORK_DIR"
check_lab_state
STATE=$LAB_STATE_DIR/qemu
check_dir_var QEMU_DEB_SRC_FILE "$SRC_LIST"
QEMU_PREFIX=${QEMU_PREFIX%/}
QEMU_WORK_DIR=${QEMU_WORK_DIR%/}
case "$QEMU_MAKE_JOBS" in '' | *[!0-9]* | 0) die "QEMU_MAKE_JOBS must be a positive integer" ;; esac

read -r -a CONFIGURE_FLAGS <<<"$QEMU_CONFIGURE_FLAGS"
for f in "${CONFIGURE_FLAGS[@]}"; do
  case "$f" in
    --prefix | --prefix=*) die "QEMU_CONFIGURE_FLAGS must not set --prefix (use QEMU_PREFIX)" ;;
    -*) ;;
    *) die "QEMU_CONFIGURE_FLAGS: '$f' is not an option (words must start with -)" ;;
  esac
done

if [ "$QEMU_SOURCE_KIND" = debian ] && [[ " ${CONFIGURE_FLAGS[*]} " != *" --firmwarepath="* ]]; then
  CONFIGURE_FLAGS+=("--firmwarepath=$DEBIAN_FIRMWAREPATH")
fi

# Source identity (what the stamp records).
case "$QEMU_SOURCE_KIND" in
  debian)
    SOURCE_ID="debian qemu=${QEMU_DEBIAN_VERSION:-candidate}"
    ;;
  tarball)
    [ -n "$QEMU_TARBALL_URL" ] || die "QEMU_SOURCE_KIND=tarball needs QEMU_TARBALL_URL"
    [[ "$QEMU_TARBALL_SHA256" =~ ^[0-9a-fA-F]{64}$ ]] ||
      die "QEMU_SOURCE_KIND=tarball needs QEMU_TARBALL_SHA256 (64 hex digits)"
    SOURCE_ID="tarball sha256=${QEMU_TARBALL_SHA256,,}"
    ;;
  local)
    [ -n "$QEMU_LOCAL_TARBALL" ] || die "QEMU_SOURCE_KIND=local needs QEMU_LOCAL_TARBALL"
    [ -f "$QEMU_LOCAL_TARBALL" ] || die "QEMU_LOCAL_TARBALL $QEMU_LOCAL_TARBALL: no such file"
    [[ "$QEMU_LOCAL_TARBALL_SHA256" =~ ^[0-9a-fA-F]{64}$ ]] ||
      die "QEMU_SOURCE_KIND=local needs QEMU_LOCAL_TARBALL_SHA256 (64 hex digits)"
    SOURCE_ID="tarball sha256=${QEMU_LOCAL_TARBALL_SHA256,,}"
    ;;
  *) die "QEMU_SOURCE_KIND must be debian, tarball or local (got '$QEMU_SOURCE_KIND')" ;;
esac

PATCHES=()
if [ -n "$QEMU_PATCH_DIR" ]; then
  [ -d "$QEMU_PATCH_DIR" ] || die "QEMU_PATCH_DIR $QEMU_PATCH_DIR: no such directory"
  for p in "$QEMU_PATCH_DIR"/*.patch; do
    [ -f "$p" ] && PATCHES+=("$p")
  done
  [ "${#PATCHES[@]}" -gt 0 ] || die "QEMU_PATCH_DIR $QEMU_PATCH_DIR holds no *.patch file"
fi

# The stamp: every input that changes the binary, in a canonical text form.
stamp_text() {
  local p
  printf '%s\n' "$STAMP_MAGIC"
  printf 'prefix=%s\n' "$QEMU_PREFIX"
  printf 'source=%s\n' "$SOURCE_ID"
  printf 'configure=%s\n' "${CONFIGURE_FLAGS[*]}"
  for p in "${PATCHES[@]}"; do
    printf 'patch=%s sha256=%s\n' "$(basename -- "$p")" "$(sha256_of "$p")"
  done
}
STAMP_WANT=$(stamp_text)
STAMP_FILE=$QEMU_PREFIX/$STAMP_NAME
BINARY=$QEMU_PREFIX/bin/qemu-system-x86_64
KEY=$(printf '%s' "$STAMP_WANT" | sha256sum | cut -c1-12)
# the content alone (no prefix): names the build cache, which any prefix can be restored from
content_of_stamp() { sed -e '/^resolved-/d' -e '/^prefix=/d'; }
CONTENT_KEY=$(printf '%s\n' "$STAMP_WANT" | content_of_stamp | sha256sum | cut -c1-12)
PREFIX_RECORD=$STATE/prefix-$(printf '%s' "$QEMU_PREFIX" | sha256sum | cut -c1-12)

# The prefix record: written before the first directory is made, so that an interrupted run
# still knows what it made. created=<dir> lines, deepest first.
record_prefix() {
  local d missing=()
  d=$(dirname -- "$QEMU_PREFIX")
  while [ "$d" != / ] && [ ! -e "$d" ]; do
    missing+=("$d")
    d=$(dirname -- "$d")
  done
  if [ -f "$PREFIX_RECORD" ]; then
    # keep what an earlier run recorded; add what is missing now
    mapfile -t RUN_CREATED_DIRS < <(sed -n 's/^created=//p' -- "$PREFIX_RECORD")
    for d in "${missing[@]}"; do
      if ! printf '%s\n' "${RUN_CREATED_DIRS[@]}" | grep -qxF -- "$d"; then RUN_CREATED_DIRS+=("$d"); fi
    done
  else
    RUN_PREFIX_RECORD=$PREFIX_RECORD
    RUN_CREATED_DIRS=("${missing[@]}")
  fi
  mkdir -p -- "$STATE"
  {
    printf 'prefix=%s\n' "$QEMU_PREFIX"
    for d in "${RUN_CREATED_DIRS[@]}"; do printf 'created=%s\n' "$d"; done
  } >"$PREFIX_RECORD.tmp"
  mv -- "$PREFIX_RECORD.tmp" "$PREFIX_RECORD"
  if [ "${#missing[@]}" -gt 0 ]; then
    mkdir -p -- "$(dirname -- "$QEMU_PREFIX")"
    say "created ${missing[*]} (recorded in $PREFIX_RECORD)"
  fi
}

INSTALLED_PKGS=()
ADDED_DEB_SRC=false
RESOLVED_SOURCE=$SOURCE_ID

RESTORED=false
emit_json() { # <built> <seconds>
  local version
  version=$("$BINARY" --version 2>/dev/null | head -n 1) || true
  [ -n "$version" ] || die "$BINARY --version printed nothing"
  local names=()
  for p in "${PATCHES[@]}"; do names+=("$(basename -- "$p")"); done
  python3 - "$BINARY" "$version" "$QEMU_PREFIX" "$1" "$2" "$QEMU_SOURCE_KIND" \
    "$RESOLVED_SOURCE" "$ADDED_DEB_SRC" "${LOG#/dev/null}" "$RESTORED" "$STATE" "${#names[@]}" "${names[@]}" \
    "${INSTALLED_PKGS[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
n = int(a[11])
print(json.dumps({
    "binary": a[0], "version": a[1], "prefix": a[2], "patches": a[12:12 + n],
    "built": a[3] == "true", "seconds": int(a[4]), "installedPackages": a[12 + n:],
    "sourceKind": a[5], "source": a[6], "addedDebSrc": a[7] == "true", "log": a[8],
    "restored": a[9] == "true", "stateDir": a[10],
}))
PY
  RUN_DONE=1
}

# ---------------------------------------------------------------- skip?
# A prefix is swapped in whole (rename) with its stamp, so the reuse check is safe without
# the lock; it is repeated under the lock, which serialises builds, in case another run
# just finished the same build.
try_reuse() {
  [ -x "$BINARY" ] && [ -f "$STAMP_FILE" ] || return 0
  [ "$(sed -n '/^resolved-/!p' "$STAMP_FILE")" = "$STAMP_WANT" ] || return 0
  RESOLVED_SOURCE=$(sed -n 's/^resolved-source=//p' "$STAMP_FILE")
  RESOLVED_SOURCE=${RESOLVED_SOURCE:-$SOURCE_ID}
  say "$QEMU_PREFIX already holds a build of these inputs; reusing it"
  [ -f "$PREFIX_RECORD" ] || record_prefix
  emit_json false "$SECONDS"
  exit 0
}
try_reuse
mkdir -p -- "$QEMU_WORK_DIR/logs" "$QEMU_WORK_DIR/downloads"
exec 9>"$QEMU_WORK_DIR/.lock"
if ! flock -n 9; then
  say "another qemu-build holds $QEMU_WORK_DIR/.lock; waiting"
  flock 9
  try_reuse
fi
# Staging dirs of a run that was killed (SIGKILL leaves no chance to clean up): builds of
# this prefix are serialised by the lock, so any other one is dead.
for s in "$QEMU_PREFIX".staging-*; do
  [ -d "$s" ] || continue
  rm -rf -- "$s"
  say "removed $s (left by a run that was killed)"
done
if [ -f "$STAMP_FILE" ]; then
  say "$QEMU_PREFIX holds a build of other inputs; it will be rebuilt and replaced"
elif [ -e "$QEMU_PREFIX" ] && [ -n "$(ls -A -- "$QEMU_PREFIX" 2>/dev/null)" ]; then
  die "$QEMU_PREFIX exists, is not empty and has no $STAMP_NAME: not ours, refusing to touch it"
fi

# Smoke test of an install: a pc machine must find its BIOS and option ROMs, incl.
# virtio-net's (a Debian-source build without firmware fails here, not at the first VM boot).
# smoke_test <binary> [-L <data dir>]; output to the log.
smoke_test() {
  local bin=$1
  shift
  printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout 60 "$bin" "$@" -machine pc -accel tcg -m 64 -display none \
      -serial none -monitor none -device virtio-net-pci -qmp stdio >>"$LOG" 2>&1
}

# A finished install of the same content is kept as dist-<content key>.tar in the work dir
# (the build cache): a prefix removed by a teardown, or another stack's prefix, comes back in
# seconds instead of a rebuild.
DIST=$QEMU_WORK_DIR/dist-$CONTENT_KEY.tar
if [ "${QEMU_DIST_CACHE:-1}" = 1 ] && [ -f "$DIST" ] && [[ " ${CONFIGURE_FLAGS[*]} " == *" --disable-relocatable "* ]] &&
  [ "$(tar -xOf "$DIST" "./$STAMP_NAME" 2>/dev/null | sed -n 's/^prefix=//p')" != "$QEMU_PREFIX" ]; then
  say "the build cache $DIST was built for another prefix with --disable-relocatable: building"
elif [ "${QEMU_DIST_CACHE:-1}" = 1 ] && [ -f "$DIST" ]; then
  record_prefix
  STAGE=$QEMU_PREFIX.staging-$$
  rm -rf -- "$STAGE"
  mkdir -p -- "$STAGE$QEMU_PREFIX"
  LOG=$QEMU_WORK_DIR/logs/qemu-restore-$KEY.log
  : >"$LOG"
  staged=$STAGE$QEMU_PREFIX
  if tar -C "$staged" -xf "$DIST" &&
    [ -x "$staged/bin/qemu-system-x86_64" ] &&
    [ "$(content_of_stamp <"$staged/$STAMP_NAME" 2>/dev/null)" = "$(printf '%s\n' "$STAMP_WANT" | content_of_stamp)" ]; then
    RESOLVED_SOURCE=$(sed -n 's/^resolved-source=//p' -- "$staged/$STAMP_NAME")
    RESOLVED_SOURCE=${RESOLVED_SOURCE:-$SOURCE_ID}
    # the stamp names this prefix; the rest of it (content, resolved source) stays
    {
      head -n 1 -- "$staged/$STAMP_NAME"
      printf 'prefix=%s\n' "$QEMU_PREFIX"
      sed -e 1d -e '/^prefix=/d' -- "$staged/$STAMP_NAME"
    } >"$staged/$STAMP_NAME.new"
    mv -- "$staged/$STAMP_NAME.new" "$staged/$STAMP_NAME"
    # staged somewhere else than where it was built, without -L: only a relocatable install
    # finds its data dir (BIOS, option ROMs) here, and so at the prefix
    if smoke_test "$staged/bin/qemu-system-x86_64"; then
      [ ! -e "$QEMU_PREFIX" ] || mv -- "$QEMU_PREFIX" "$STAGE/old"
      mv -- "$staged" "$QEMU_PREFIX"
      rm -rf -- "$STAGE"
      STAGE=""
      RESTORED=true
      say "restored $QEMU_PREFIX from the build cache ($DIST); smoke test passed at the new place"
      emit_json false "$SECONDS"
      exit 0
    fi
    tail -n 5 -- "$LOG" | sed 's/^/    /' >&2
    say "the build cache $DIST does not run outside the prefix it was built for (not relocatable?): building"
  else
    say "build cache $DIST does not match these inputs: building"
  fi
  rm -rf -- "$STAGE"
  STAGE=""
fi

LOG=$QEMU_WORK_DIR/logs/qemu-build-$KEY.log
: >"$LOG"
say "building QEMU ($SOURCE_ID, ${#PATCHES[@]} patch(es)) into $QEMU_PREFIX; log $LOG"

# ---------------------------------------------------------------- packages
missing_packages() {
  local p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
      printf '%s\n' "$p"
  done
}
APT_UPDATED=0
apt_update() {
  say "apt-get update"
  run "apt-get update" apt-get update
  APT_UPDATED=1
}
ensure_packages() {
  local missing=()
  mapfile -t missing < <(missing_packages "$@")
  [ "${#missing[@]}" -gt 0 ] || return 0
  say "installing missing packages: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}" >>"$LOG" 2>&1; then
    [ "$APT_UPDATED" = 1 ] && die "apt-get install ${missing[*]} failed (see $LOG)"
    apt_update
    run "apt-get install" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
      --no-install-recommends "${missing[@]}"
  fi
  INSTALLED_PKGS+=("${missing[@]}")
  mkdir -p -- "$STATE"
  printf '%s\n' "${missing[@]}" >>"$STATE/installed-packages"
}

deps=("${BUILD_DEPS[@]}")
case "$QEMU_SOURCE_KIND" in
  debian) deps+=(dpkg-dev "${DEBIAN_FIRMWARE_PKGS[@]}") ;;
  tarball) command -v curl >/dev/null || command -v wget >/dev/null || deps+=(curl) ;;
esac
ensure_packages "${deps[@]}"

# ---------------------------------------------------------------- source
SRC_ROOT=$QEMU_WORK_DIR/tree-$KEY
rm -rf -- "$SRC_ROOT"
mkdir -p -- "$SRC_ROOT"
SRC=$SRC_ROOT/qemu

# apt's --format placeholders are literal text, not shell expansions.
# shellcheck disable=SC2016
has_deb_src() {
  local targets
  targets=$(apt-get indextargets --format '$(TARGET_OF)' 2>/dev/null) || true
  [[ $'\n'"$targets"$'\n' == *$'\ndeb-src\n'* ]]
}

# shellcheck disable=SC2016
add_deb_src() {
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg entries uri suites
  # One deb-src stanza per mirror the host's deb entries use, same suites, component main.
  entries=$(apt-get indextargets --format '$(TARGET_OF) $(REPO_URI) $(RELEASE)' \
    'Created-By: Packages' 2>/dev/null | awk '$1 == "deb" { print $2, $3 }' | sort -u)
  if [ -z "$entries" ]; then
    # shellcheck disable=SC1091
    entries="http://deb.debian.org/debian/ $(. /etc/os-release && printf '%s' "$VERSION_CODENAME")"
  fi
  mkdir -p -- "$STATE"
  printf 'file=%s\nrole=created\n' "$SRC_LIST" >"$STATE/deb-src"
  RUN_ADDED_DEB_SRC=1
  {
    printf '# Added by vhost-perf-lab scripts/qemu-build.sh (QEMU source) for stack %s; removed\n' "$LAB_STACK"
    printf '# by scripts/qemu-remove.sh. Recorded in %s/deb-src.\n' "$STATE"
    printf '%s\n' "$entries" | cut -d' ' -f1 | sort -u | while read -r uri; do
      suites=$(printf '%s\n' "$entries" | awk -v u="$uri" '$1 == u { print $2 }' | tr '\n' ' ')
      printf '\nTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "${suites% }"
      [ -f "$keyring" ] && printf 'Signed-By: %s\n' "$keyring"
    done
  } >"$SRC_LIST.tmp"
  mv -- "$SRC_LIST.tmp" "$SRC_LIST"
  ADDED_DEB_SRC=true
  say "added deb-src entries in $SRC_LIST"
}

debian_versions() {
  apt-cache showsrc --only-source qemu 2>/dev/null | sed -n 's/^Version: //p' | sort -u
}

pick_debian_version() { # prints the wanted version or nothing
  local v best=""
  if [ -n "$QEMU_DEBIAN_VERSION" ]; then
    debian_versions | grep -xF -- "$QEMU_DEBIAN_VERSION" >/dev/null && printf '%s' "$QEMU_DEBIAN_VERSION"
    return 0
  fi
  while read -r v; do
    [ -n "$v" ] || continue
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done < <(debian_versions)
  printf '%s' "$best"
}

# other stacks' records that list the deb-src file (created or uses), one record path a line
deb_src_listers() {
  local r
  for r in "$LAB_STATE_ROOT"/*/qemu/deb-src; do
    if [ ! -f "$r" ] || [ "$r" = "$STATE/deb-src" ]; then continue; fi
    grep -qxF -- "file=$SRC_LIST" "$r" && printf '%s\n' "$r"
  done
  return 0
}

fetch_debian() {
  local ver dl dsc
  # The file another stack added: this stack builds from it too, so it must stay until this
  # stack is gone (qemu-remove.sh of the creator hands it over instead of removing it).
  if [ -f "$SRC_LIST" ] && [ ! -f "$STATE/deb-src" ] && [ -n "$(deb_src_listers)" ]; then
    mkdir -p -- "$STATE"
    printf 'file=%s\nrole=uses\n' "$SRC_LIST" >"$STATE/deb-src"
    RUN_USES_DEB_SRC=1
    say "building from $SRC_LIST, added by another stack ($(deb_src_listers | head -n 1)); recorded as used"
  fi
  if ! has_deb_src; then
    if [ -f "$SRC_LIST" ]; then
      die "$SRC_LIST exists but apt sees no deb-src entry: check it"
    fi
    add_deb_src
    apt_update
  fi
  ver=$(pick_debian_version)
  if [ -z "$ver" ] && [ "$APT_UPDATED" = 0 ]; then
    apt_update
    ver=$(pick_debian_version)
  fi
  [ -n "$ver" ] || die "source qemu${QEMU_DEBIAN_VERSION:+=$QEMU_DEBIAN_VERSION} not found in the deb-src lists (have: $(debian_versions | tr '\n' ' '))"
  RESOLVED_SOURCE="debian qemu=$ver"
  dl=$QEMU_WORK_DIR/downloads/debian
  mkdir -p -- "$dl"
  # Let apt's sandbox user write there (avoids the "unsandboxed" fallback).
  if getent passwd _apt >/dev/null; then chown _apt:root -- "$dl"; fi
  say "apt-get source --download-only qemu=$ver"
  run "apt-get source" env -C "$dl" apt-get source --download-only "qemu=$ver"
  dsc=$dl/qemu_${ver#*:}.dsc
  [ -f "$dsc" ] || die "apt-get source did not leave $dsc"
  say "dpkg-source -x $(basename -- "$dsc")"
  run "dpkg-source -x" dpkg-source -x "$dsc" "$SRC"
}

download() { # <url> <file>
  if command -v curl >/dev/null; then
    run "download" curl -fsSL --retry 3 -o "$2" -- "$1"
  else
    run "download" wget -q -O "$2" -- "$1"
  fi
}

unpack_tarball() { # <file> <sha256>
  check_sha256 "$1" "$2"
  mkdir -p -- "$SRC"
  say "unpacking $(basename -- "$1")"
  run "tar -x" tar -xf "$1" -C "$SRC" --strip-components=1 --no-same-owner
}

fetch_tarball() {
  local sha=${QEMU_TARBALL_SHA256,,} name file
  name=$(basename -- "${QEMU_TARBALL_URL%%[?#]*}")
  file=$QEMU_WORK_DIR/downloads/$sha-$name
  if [ -f "$file" ] && [ "$(sha256_of "$file")" = "$sha" ]; then
    say "using cached $file"
  else
    say "downloading $QEMU_TARBALL_URL"
    rm -f -- "$file.part"
    download "$QEMU_TARBALL_URL" "$file.part"
    check_sha256 "$file.part" "$sha"
    mv -- "$file.part" "$file"
  fi
  unpack_tarball "$file" "$sha"
}

case "$QEMU_SOURCE_KIND" in
  debian) fetch_debian ;;
  tarball) fetch_tarball ;;
  local) unpack_tarball "$QEMU_LOCAL_TARBALL" "$QEMU_LOCAL_TARBALL_SHA256" ;;
esac
[ -x "$SRC/configure" ] || die "no configure script in the unpacked source ($SRC)"

# ---------------------------------------------------------------- patches
for p in "${PATCHES[@]}"; do
  name=$(basename -- "$p")
  say "applying $name"
  printf '\n### patch %s\n' "$name" >>"$LOG"
  if ! patch -d "$SRC" -p1 --forward --fuzz=0 --batch --dry-run -i "$p" >>"$LOG" 2>&1; then
    tail -n 10 "$LOG" | sed 's/^/    /' >&2
    die "patch $name does not apply cleanly to $RESOLVED_SOURCE"
  fi
  run "patch $name" patch -d "$SRC" -p1 --forward --fuzz=0 --batch \
    --no-backup-if-mismatch -i "$p"
done

# ---------------------------------------------------------------- build, install
mkdir -p -- "$SRC/build"
say "configure --prefix=$QEMU_PREFIX ${CONFIGURE_FLAGS[*]}"
run "configure" env -C "$SRC/build" ../configure --prefix="$QEMU_PREFIX" "${CONFIGURE_FLAGS[@]}"
say "make -j$QEMU_MAKE_JOBS (several minutes)"
run "make" make -C "$SRC/build" -j"$QEMU_MAKE_JOBS"

# Install into a staging DESTDIR beside the prefix, then swap it in, so that a failed
# install never leaves a half-populated prefix behind.
record_prefix
STAGE=$QEMU_PREFIX.staging-$$
rm -rf -- "$STAGE"
say "make install"
run "make install" env DESTDIR="$STAGE" make -C "$SRC/build" install
[ -x "$STAGE$QEMU_PREFIX/bin/qemu-system-x86_64" ] ||
  die "make install left no bin/qemu-system-x86_64"
# Smoke test before the prefix is swapped in. -L adds the staged data dir, in case the build
# is not relocatable (then the binary looks in $QEMU_PREFIX/share/qemu).
say "smoke test: pc machine under TCG, QMP quit"
printf '\n### smoke test\n' >>"$LOG"
if ! smoke_test "$STAGE$QEMU_PREFIX/bin/qemu-system-x86_64" -L "$STAGE$QEMU_PREFIX/share/qemu"; then
  tail -n 25 -- "$LOG" | sed 's/^/    /' >&2
  die "smoke test failed: the staged QEMU does not start a pc machine"
fi
{
  printf '%s\n' "$STAMP_WANT"
  printf 'resolved-source=%s\n' "$RESOLVED_SOURCE"
  printf 'resolved-built-at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$STAGE$QEMU_PREFIX/$STAMP_NAME"
if [ -e "$QEMU_PREFIX" ]; then
  # Only reached for an empty dir or a prefix carrying our stamp (checked above). Move it
  # into the staging dir (removed below or by the exit trap) so the swap is two renames.
  mv -- "$QEMU_PREFIX" "$STAGE/old"
fi
mv -- "$STAGE$QEMU_PREFIX" "$QEMU_PREFIX"
rm -rf -- "$STAGE"
STAGE=""

if [ "${QEMU_DIST_CACHE:-1}" = 1 ]; then
  if tar -C "$QEMU_PREFIX" -cf "$DIST.tmp" .; then
    mv -- "$DIST.tmp" "$DIST"
  else
    rm -f -- "$DIST.tmp"
    say "could not save the build cache $DIST (not fatal)"
  fi
fi
if [ "$QEMU_KEEP_BUILD_TREE" != 1 ]; then
  rm -rf -- "$SRC_ROOT"
fi
say "installed $BINARY"
emit_json true "$SECONDS"
