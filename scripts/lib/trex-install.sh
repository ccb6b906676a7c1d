# shellcheck shell=bash disable=SC2154,SC2034 # rec, stack, INSTALLING: the sourcing script's
# TRex install / check of an existing install dir, sourced by scripts/trex-server.sh (which
# sets say, die, json_str, $rec, $stack and the TREX_* settings).
#
# An install dir is either a release tarball's directory (t-rex-64 at its top, e.g. v3.03/) or a
# trex-core tree built from source as CSIT does (scripts/t-rex-64). Its version is, in order: the
# lab's marker (.vhost-perf-lab-trex), a VERSION file, the trex_client_v<version>.tar.gz a
# release ships, or the directory's own name (v3.03, trex-core-3.03).

MARKER=.vhost-perf-lab-trex
CFG_PATH_HINT="vhost-perf-lab:tg.options.installDir / tg.options.version"

# the directory t-rex-64 runs from, empty when there is none
trex_bindir() {
  if [ -x "$1/t-rex-64" ]; then
    printf '%s\n' "$1"
  elif [ -x "$1/scripts/t-rex-64" ]; then
    printf '%s\n' "$1/scripts"
  fi
  return 0
}

norm_version() { local v=${1#v}; printf '%s\n' "${v%%[[:space:]]*}"; }

trex_version() { # dir bindir
  local d=$1 b=$2 f n
  if [ -f "$d/$MARKER" ]; then
    sed -n 's/^version=//p' -- "$d/$MARKER" | head -n 1
    return 0
  fi
  for f in "$d/VERSION" "$b/VERSION"; do
    if [ -f "$f" ]; then norm_version "$(head -n 1 -- "$f")" && return 0; fi
  done
  for f in "$b"/trex_client_v*.tar.gz; do
    [ -f "$f" ] || continue
    n=${f##*/trex_client_v}
    printf '%s\n' "${n%.tar.gz}"
    return 0
  done
  n=$(basename -- "$(realpath -- "$d")")
  case "$n" in
    v[0-9]*) norm_version "$n" ;;
    trex-core-[0-9]*) printf '%s\n' "${n#trex-core-}" ;;
  esac
  return 0
}

# exit 0 when $TREX_INSTALL_DIR holds t-rex-64 of $TREX_VERSION; else the reason on stdout
install_problem() {
  local b v
  [ -d "$TREX_INSTALL_DIR" ] || { echo "$TREX_INSTALL_DIR does not exist"; return 1; }
  b=$(trex_bindir "$TREX_INSTALL_DIR")
  [ -n "$b" ] || { echo "$TREX_INSTALL_DIR has no t-rex-64 (nor scripts/t-rex-64)"; return 1; }
  v=$(trex_version "$TREX_INSTALL_DIR" "$b")
  [ -n "$v" ] || { echo "cannot tell the TRex version of $TREX_INSTALL_DIR (no VERSION file, no trex_client_v<version>.tar.gz, directory not named v<version>)"; return 1; }
  [ "$v" = "$(norm_version "$TREX_VERSION")" ] || { echo "$TREX_INSTALL_DIR holds TRex $v, the config asks for $TREX_VERSION"; return 1; }
}

# download (or reuse the cached copy), verified by sha256, into TARBALL (the cached path)
fetch_tarball() {
  local got tmp
  TARBALL=$TREX_CACHE_DIR/trex-$TREX_TARBALL_SHA256.tar.gz
  mkdir -p -- "$TREX_CACHE_DIR"
  if [ -f "$TARBALL" ] && [ "$(sha256sum -- "$TARBALL" | cut -d ' ' -f 1)" = "$TREX_TARBALL_SHA256" ]; then
    say "using the cached tarball $TARBALL"
    return 0
  fi
  tmp=$(mktemp -- "$TREX_CACHE_DIR/.download.XXXXXX")
  TMPFILES+=("$tmp")
  say "downloading $TREX_TARBALL_URL"
  curl -fsSL --retry 3 -o "$tmp" -- "$TREX_TARBALL_URL" || die "download of $TREX_TARBALL_URL failed" "check the URL (vhost-perf-lab:tg.options) and the TG's network"
  got=$(sha256sum -- "$tmp" | cut -d ' ' -f 1)
  [ "$got" = "$TREX_TARBALL_SHA256" ] || die "sha256 of $TREX_TARBALL_URL is $got, expected $TREX_TARBALL_SHA256: refused" \
    "check the tarball's URL and sha256 in the config (a changed release or a wrong pin)"
  mv -f -- "$tmp" "$TARBALL"
}

# undo of a half-done install: what this run created
UNPACK=""
MOVED=0
LEVELS=0
undo_install() {
  local i d
  trap '' TERM INT
  [ -z "$UNPACK" ] || rm -rf -- "$UNPACK"
  [ "$MOVED" = 0 ] || rm -rf -- "$TREX_INSTALL_DIR"
  d=$(dirname -- "$TREX_INSTALL_DIR")
  for ((i = 0; i < LEVELS; i++)); do
    rmdir -- "$d" 2>/dev/null || break
    d=$(dirname -- "$d")
  done
  rm -f -- "$rec/install"
}

do_install() {
  local problem parent d top
  mkdir -p -- "$rec"
  if [ -f "$rec/install" ] && install_problem >/dev/null; then
    say "TRex $TREX_VERSION installed at $TREX_INSTALL_DIR by this stack"
    return 0
  fi
  if [ -e "$TREX_INSTALL_DIR" ]; then
    problem=$(install_problem) || die "$problem" "install TRex $TREX_VERSION at $TREX_INSTALL_DIR, or set $CFG_PATH_HINT to the install that is there"
    printf 'dir=%s\ncreated=0\nlevels=0\nversion=%s\n' "$TREX_INSTALL_DIR" "$TREX_VERSION" >"$rec/install"
    say "TRex $TREX_VERSION found at $TREX_INSTALL_DIR (not the lab's: kept on destroy)"
    return 0
  fi
  [ -n "${TREX_TARBALL_URL:-}" ] || die "TRex is not installed at $TREX_INSTALL_DIR and no release tarball is configured" \
    "install TRex $TREX_VERSION there, set $CFG_PATH_HINT to an existing install, or configure the release tarball (URL + sha256)"
  [[ ${TREX_TARBALL_SHA256:-} =~ ^[0-9a-f]{64}$ ]] || die "TREX_TARBALL_SHA256 '${TREX_TARBALL_SHA256:-}' is not a sha256 hex digest"
  INSTALLING=1
  fetch_tarball
  parent=$(dirname -- "$TREX_INSTALL_DIR")
  d=$parent
  while [ ! -e "$d" ]; do
    LEVELS=$((LEVELS + 1))
    d=$(dirname -- "$d")
  done
  mkdir -p -- "$parent"
  UNPACK=$(mktemp -d -- "$parent/.vpl-trex-unpack.XXXXXX")
  say "unpacking into $UNPACK"
  tar -xzf "$TARBALL" -C "$UNPACK" --no-same-owner
  mapfile -t top < <(find "$UNPACK" -mindepth 1 -maxdepth 1)
  if [ "${#top[@]}" != 1 ] || [ ! -d "${top[0]}" ]; then die "the tarball does not hold one top directory" "give the TRex release tarball (vX.YY.tar.gz)"; fi
  [ -n "$(trex_bindir "${top[0]}")" ] || die "the tarball's ${top[0]##*/}/ has no t-rex-64" "give the TRex release tarball (vX.YY.tar.gz)"
  printf 'version=%s\nstack=%s\n' "$(norm_version "$TREX_VERSION")" "$stack" >"${top[0]}/$MARKER"
  printf 'dir=%s\ncreated=1\nlevels=%s\nversion=%s\n' "$TREX_INSTALL_DIR" "$LEVELS" "$TREX_VERSION" >"$rec/install"
  mv -T -- "${top[0]}" "$TREX_INSTALL_DIR"
  MOVED=1
  rmdir -- "$UNPACK"
  UNPACK=""
  INSTALLING=0
  say "installed TRex $TREX_VERSION at $TREX_INSTALL_DIR"
}

do_uninstall() {
  local created levels d i
  [ -f "$rec/install" ] || { say "no install record: nothing of the lab's to remove"; return 0; }
  created=$(sed -n 's/^created=//p' -- "$rec/install")
  levels=$(sed -n 's/^levels=//p' -- "$rec/install")
  if [ "$created" = 1 ] && [ -d "$TREX_INSTALL_DIR" ]; then
    if grep -qx "stack=$stack" -- "$TREX_INSTALL_DIR/$MARKER" 2>/dev/null; then
      rm -rf -- "$TREX_INSTALL_DIR"
      say "removed $TREX_INSTALL_DIR"
      d=$(dirname -- "$TREX_INSTALL_DIR")
      for ((i = 0; i < ${levels:-0}; i++)); do
        rmdir -- "$d" 2>/dev/null || break
        d=$(dirname -- "$d")
      done
    else
      say "$TREX_INSTALL_DIR is not marked as this stack's install: left as it is"
    fi
  fi
  rm -f -- "$rec/install"
}
