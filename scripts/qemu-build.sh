#!/usr/bin/env bash
# Build QEMU (x86_64 system emulator) from source on the DUT, optionally patched, into an
# install prefix of its own, and print the result as ONE JSON line on stdout:
#   {"binary": "<prefix>/bin/qemu-system-x86_64", "version": "<first line of --version>",
#    "prefix": "...", "patches": ["0001-....patch", ...], "built": true|false,
#    "seconds": N, "installedPackages": [...], "sourceKind": "...", "source": "...",
#    "addedDebSrc": true|false, "log": "..."}
# "built": false means an existing build in the prefix matched the inputs and was reused.
# Progress goes to stderr ("[qemu-build 12s] ..."), long command output to the log file.
# Runs as root (apt, /opt). Needs bash, coreutils, flock, python3 (for the JSON line).
#
# Inputs (environment):
#   QEMU_PREFIX           required. Install prefix, e.g. /opt/vhost-perf-lab/qemu/7.2-<key>.
#                         The caller computes <key> from version + patch set + flags; this
#                         script only reuses a prefix whose stamp matches the inputs below
#                         and rebuilds (replacing it) when they differ. A non-empty prefix
#                         without this project's stamp is never touched (error).
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
#   QEMU_STATE_DIR        default /var/lib/vhost-perf-lab/qemu: records what this project
#                         changed on the host (deb-src file added, packages installed).
#   QEMU_MAKE_JOBS        default $(nproc)
#   QEMU_DIST_CACHE       1 (default) = keep each finished install as dist-<key>.tar in
#                         QEMU_WORK_DIR and restore a removed prefix from it instead of
#                         rebuilding; 0 = always build
#   QEMU_KEEP_BUILD_TREE  1 = keep the unpacked source + build tree after install
#                         (default 0: removed once installed; downloads are always kept)
#
# Debian source: if no deb-src entry is configured, one is added for every mirror/suite the
# host's deb entries use, in /etc/apt/sources.list.d/vhost-perf-lab-src.sources, recorded
# in $QEMU_STATE_DIR/added-deb-src so qemu-remove.sh takes it out again. `apt-get update`
# runs only when a deb-src entry was added or the wanted version is not in the lists.
# Build dependencies that are missing are installed with apt-get (as CSIT does on a lab
# DUT); they are listed in the JSON and appended to $QEMU_STATE_DIR/installed-packages.
set -euo pipefail
export LC_ALL=C
umask 022

readonly SCRIPT=qemu-build
readonly STAMP_NAME=vhost-perf-lab-qemu.stamp
readonly STAMP_MAGIC='# vhost-perf-lab qemu-build stamp v1'
readonly SRC_LIST=/etc/apt/sources.list.d/vhost-perf-lab-src.sources
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
on_exit() {
  local rc=$?
  if [ -n "$STAGE" ] && [ -d "$STAGE" ]; then rm -rf -- "$STAGE"; fi
  if [ "$rc" -ne 0 ] && [ "$LOG" != /dev/null ]; then say "failed (exit $rc); log: $LOG"; fi
}
trap on_exit EXIT

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
QEMU_STATE_DIR=${QEMU_STATE_DIR:-/var/lib/vhost-perf-lab/qemu}
QEMU_MAKE_JOBS=${QEMU_MAKE_JOBS:-$(nproc)}
QEMU_KEEP_BUILD_TREE=${QEMU_KEEP_BUILD_TREE:-0}

[ "$(id -u)" -eq 0 ] || die "must run as root"

check_dir_var() { # <name> <value>: absolute, not /, no .. component
  case "$2" in
    /*) ;;
    *) die "$1 must be an absolute path (got '$2')" ;;
  esac
  case "/$2/" in
    */../* | */./*) die "$1 must not contain . or .. components (got '$2')" ;;
  esac
  [ "${2%/}" != "" ] || die "$1 must not be /"
}
[ -n "$QEMU_PREFIX" ] || die "QEMU_PREFIX is required"
check_dir_var QEMU_PREFIX "$QEMU_PREFIX"
check_dir_var QEMU_WORK_DIR "$QEMU_WORK_DIR"
check_dir_var QEMU_STATE_DIR "$QEMU_STATE_DIR"
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

INSTALLED_PKGS=()
ADDED_DEB_SRC=false
RESOLVED_SOURCE=$SOURCE_ID

emit_json() { # <built> <seconds>
  local version
  version=$("$BINARY" --version 2>/dev/null | head -n 1) || true
  [ -n "$version" ] || die "$BINARY --version printed nothing"
  local names=()
  for p in "${PATCHES[@]}"; do names+=("$(basename -- "$p")"); done
  python3 - "$BINARY" "$version" "$QEMU_PREFIX" "$1" "$2" "$QEMU_SOURCE_KIND" \
    "$RESOLVED_SOURCE" "$ADDED_DEB_SRC" "${LOG#/dev/null}" "${#names[@]}" "${names[@]}" \
    "${INSTALLED_PKGS[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
n = int(a[9])
print(json.dumps({
    "binary": a[0], "version": a[1], "prefix": a[2], "patches": a[10:10 + n],
    "built": a[3] == "true", "seconds": int(a[4]), "installedPackages": a[10 + n:],
    "sourceKind": a[5], "source": a[6], "addedDebSrc": a[7] == "true", "log": a[8],
}))
PY
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
  emit_json false "$SECONDS"
  exit 0
}
try_reuse
mkdir -p -- "$QEMU_WORK_DIR/logs" "$QEMU_WORK_DIR/downloads" "$QEMU_STATE_DIR"
exec 9>"$QEMU_WORK_DIR/.lock"
if ! flock -n 9; then
  say "another qemu-build holds $QEMU_WORK_DIR/.lock; waiting"
  flock 9
  try_reuse
fi
if [ -f "$STAMP_FILE" ]; then
  say "$QEMU_PREFIX holds a build of other inputs; it will be rebuilt and replaced"
elif [ -e "$QEMU_PREFIX" ] && [ -n "$(ls -A -- "$QEMU_PREFIX" 2>/dev/null)" ]; then
  die "$QEMU_PREFIX exists, is not empty and has no $STAMP_NAME: not ours, refusing to touch it"
fi

# A finished install of the same inputs is kept as dist-<key>.tar in the work dir (the
# build cache): a prefix removed by a teardown comes back in seconds instead of a rebuild.
DIST=$QEMU_WORK_DIR/dist-$KEY.tar
if [ "${QEMU_DIST_CACHE:-1}" = 1 ] && [ -f "$DIST" ]; then
  STAGE=$QEMU_PREFIX.staging-$$
  rm -rf -- "$STAGE"
  mkdir -p -- "$STAGE$QEMU_PREFIX"
  if tar -C "$STAGE$QEMU_PREFIX" -xf "$DIST" &&
    [ -x "$STAGE$QEMU_PREFIX/bin/qemu-system-x86_64" ] &&
    [ "$(sed -n '/^resolved-/!p' "$STAGE$QEMU_PREFIX/$STAMP_NAME" 2>/dev/null)" = "$STAMP_WANT" ]; then
    RESOLVED_SOURCE=$(sed -n 's/^resolved-source=//p' "$STAGE$QEMU_PREFIX/$STAMP_NAME")
    RESOLVED_SOURCE=${RESOLVED_SOURCE:-$SOURCE_ID}
    [ -e "$QEMU_PREFIX" ] && mv -- "$QEMU_PREFIX" "$STAGE/old"
    mv -- "$STAGE$QEMU_PREFIX" "$QEMU_PREFIX"
    rm -rf -- "$STAGE"
    STAGE=""
    say "restored $QEMU_PREFIX from the build cache ($DIST)"
    emit_json false "$SECONDS"
    exit 0
  fi
  say "build cache $DIST does not match these inputs: building"
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
  printf '%s\n' "${missing[@]}" >>"$QEMU_STATE_DIR/installed-packages"
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
  {
    printf '# Added by vhost-perf-lab scripts/qemu-build.sh (QEMU source); removed by\n'
    printf '# scripts/qemu-remove.sh. Recorded in %s/added-deb-src.\n' "$QEMU_STATE_DIR"
    printf '%s\n' "$entries" | cut -d' ' -f1 | sort -u | while read -r uri; do
      suites=$(printf '%s\n' "$entries" | awk -v u="$uri" '$1 == u { print $2 }' | tr '\n' ' ')
      printf '\nTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "${suites% }"
      [ -f "$keyring" ] && printf 'Signed-By: %s\n' "$keyring"
    done
  } >"$SRC_LIST.tmp"
  mv -- "$SRC_LIST.tmp" "$SRC_LIST"
  printf '%s\n' "$SRC_LIST" >"$QEMU_STATE_DIR/added-deb-src"
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

fetch_debian() {
  local ver dl dsc
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
mkdir -p -- "$(dirname -- "$QEMU_PREFIX")"
STAGE=$QEMU_PREFIX.staging-$$
rm -rf -- "$STAGE"
say "make install"
run "make install" env DESTDIR="$STAGE" make -C "$SRC/build" install
[ -x "$STAGE$QEMU_PREFIX/bin/qemu-system-x86_64" ] ||
  die "make install left no bin/qemu-system-x86_64"
# Smoke test before the prefix is swapped in: a pc machine must find its BIOS and option
# ROMs, incl. virtio-net's (a Debian-source build without firmware fails here, not at the first VM boot).
# -L adds the staged data dir, since the binary looks in $QEMU_PREFIX/share/qemu.
say "smoke test: pc machine under TCG, QMP quit"
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
  run "smoke test" timeout 60 "$STAGE$QEMU_PREFIX/bin/qemu-system-x86_64" \
    -L "$STAGE$QEMU_PREFIX/share/qemu" -machine pc -accel tcg -m 64 -display none \
    -serial none -monitor none -device virtio-net-pci -qmp stdio
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
