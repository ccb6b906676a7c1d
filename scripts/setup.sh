#!/usr/bin/env bash
# Prepare this machine for vhost-perf-lab. Both README commands (the lab and the tests)
# call it. Idempotent: a second run checks, finds everything in place, and returns fast.
#
#   1. Debian packages the local lab and the tests need (apt-get, only what is missing)
#   2. npm packages (npm ci, skipped while package-lock.json is unchanged)
#   3. the Pulumi toolchain at the versions pinned in tools/versions.env:
#        pulumi, pulumi-language-nodejs, pulumi-resource-command
#      built from the Go module proxy (default) or taken from the official installer
#      (VPL_PULUMI_FROM=installer), cached under ~/.cache/vhost-perf-lab keyed by content
#   4. `pulumi` on PATH (a small wrapper in $VPL_BIN_DIR, default /usr/local/bin), the
#      project's file backend, a passphrase file, and the stacks of the shipped Pulumi.*.yaml
#
# Usage: scripts/setup.sh [--only toolchain]
#   --only toolchain   only step 3 and the `pulumi` wrapper of step 4: no apt, npm, passphrase
#                      or stacks (what tests/installer.test.ts runs)
#
# Environment:
#   VPL_PULUMI_FROM=go|installer   where the toolchain comes from (default: go)
#   VPL_PULUMI_INSTALLER_URL=<url> installer: the URL whose body is Pulumi's install script
#                                  (default https://get.pulumi.com); run as `sh <script> --version
#                                  <pinned> --install-root $PULUMI_HOME --no-edit-path`, it puts the
#                                  CLI and its language hosts in $PULUMI_HOME/bin (default ~/.pulumi)
#   VPL_PULUMI_PLUGIN_SERVER=<url> installer: take the command provider from <url> (`pulumi plugin
#                                  install ... --server <url>` fetches <url>/pulumi-resource-command-
#                                  v<pinned>-linux-amd64.tar.gz); default: where the Pulumi Registry
#                                  says (GitHub releases)
#   VPL_SKIP_APT=1                 do not touch system packages (check only)
#   VPL_BIN_DIR=<dir>              where the `pulumi` wrapper goes (default /usr/local/bin)
#   VPL_HOME=<dir>                 state, passphrase (default ~/.vhost-perf-lab)
#   XDG_CACHE_HOME                 cache root (default ~/.cache)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/versions.env
. "$repo/tools/versions.env"

VPL_PULUMI_FROM=${VPL_PULUMI_FROM:-go}
VPL_BIN_DIR=${VPL_BIN_DIR:-/usr/local/bin}
VPL_HOME=${VPL_HOME:-$HOME/.vhost-perf-lab}
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/vhost-perf-lab
t0=$SECONDS

say() { printf '[setup %3ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  printf '[setup] ERROR: %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '[setup]   fix: %s\n' "$2" >&2
  exit 1
}

# ---------------------------------------------------------------- 1. system packages
# QEMU build deps (meson/ninja, glib, pixman, slirp, fdt), Debian source tooling, the guest
# image builder (debootstrap, extlinux, sfdisk, mkfs.ext4, qemu-img), DPDK testpmd (dpdk-dev),
# trafgen (netsniff-ng), sshd for the lab's own loopback SSH, the tests' shellcheck, the
# headless chromium that opens the HTML report in tests/report-browser.test.ts, the
# GRUB VM that stands in for a DUT in tests/kernel-vm.test.ts (qemu-system-x86), and OVS-DPDK
# (openvswitch-switch-dpdk; scripts/vswitch-ovs.sh runs its ovs-vswitchd-dpdk binary by path,
# without systemd, and leaves the system's ovs-vswitchd alternative alone), and libvirt for the
# `vms.backend: libvirt` VMs (libvirt-daemon-system: its qemu.conf and the libvirt-qemu user that
# libvirtd's QEMU driver needs to start; scripts/vm-libvirt.sh starts libvirtd without systemd).
apt_packages=(
  ca-certificates curl git xz-utils build-essential pkg-config
  ninja-build meson libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev zlib1g-dev
  flex bison python3-venv python3-tomli dpkg-dev
  qemu-utils dpdk-dev netsniff-ng debootstrap extlinux syslinux-common fdisk e2fsprogs
  openssh-server openssh-client iproute2 procps util-linux kmod socat jq bc shellcheck
  chromium qemu-system-x86 openvswitch-switch-dpdk
  libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system
)

missing_packages() {
  local p
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$p"
  done
}

install_system_packages() {
  command -v dpkg-query >/dev/null || die "dpkg-query not found: this setup supports Debian 12 (bookworm)" \
    "run on Debian 12, or install the packages listed in scripts/setup.sh by hand and set VPL_SKIP_APT=1"
  local missing
  mapfile -t missing < <(missing_packages)
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages: all ${#apt_packages[@]} present"
    return
  fi
  if [ "${VPL_SKIP_APT:-}" = 1 ]; then
    die "missing Debian packages: ${missing[*]}" "apt-get install ${missing[*]} (or unset VPL_SKIP_APT)"
  fi
  [ "$(id -u)" = 0 ] || die "installing Debian packages needs root (missing: ${missing[*]})" \
    "re-run as root, or install them yourself and set VPL_SKIP_APT=1"
  say "system packages: installing ${#missing[@]} (${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$cache_root/apt-update.log" 2>&1 ||
    die "apt-get update failed (log: $cache_root/apt-update.log)" "check the Debian mirror in /etc/apt/sources.list.d"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$cache_root/apt-install.log" 2>&1 ||
    die "apt-get install failed (log: $cache_root/apt-install.log)" "read the log; a package name may differ on this release"
  say "system packages: installed"
}

# ---------------------------------------------------------------- 2. npm packages
install_npm_packages() {
  command -v node >/dev/null || die "node not found" "install Node.js 20 or 22 (Debian: nodejs; or nodesource)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  { [ "$major" -ge 20 ] && [ "$major" -le 22 ]; } ||
    die "Node.js $(node --version) is not supported (package.json engines: >=20 <23)" "install Node.js 20 or 22"
  local want have=""
  want=$(sha256sum "$repo/package-lock.json" | cut -c1-64)
  [ -f "$repo/node_modules/.vpl-lock-sha256" ] && have=$(cat "$repo/node_modules/.vpl-lock-sha256")
  if [ "$want" = "$have" ]; then
    say "npm packages: up to date with package-lock.json"
    return
  fi
  say "npm packages: npm ci"
  (cd "$repo" && npm ci --no-audit --no-fund --loglevel=error >"$cache_root/npm-ci.log" 2>&1) ||
    die "npm ci failed (log: $cache_root/npm-ci.log)" "check that the npm registry is reachable"
  printf '%s\n' "$want" >"$repo/node_modules/.vpl-lock-sha256"
  say "npm packages: installed"
}

# ---------------------------------------------------------------- 3. Pulumi toolchain
# content key of a Go module directory + the Go toolchain + the version stamped in
module_key() {
  local dir=$1 version=$2
  {
    go version
    printf '%s\n' "$version"
    (cd "$dir" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
}

# go_build <module dir> <package> <binary name> <version> <ldflags -X target>
# Prints the path of the cached binary; builds it only when the cache has no copy.
go_build() {
  local dir=$1 pkg=$2 name=$3 version=$4 xvar=$5 key out
  key=$(module_key "$dir" "$version")
  out="$cache_root/toolchain/$name-$version-$key"
  if [ -x "$out/$name" ]; then
    say "$name $version: cached ($out)"
  else
    say "$name $version: building from the Go module proxy (first time: minutes; log $cache_root/build-$name.log)"
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    local log="$cache_root/build-$name.log"
    (cd "$dir" && CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w -X $xvar=$version" \
      -o "$out.tmp/$name" "$pkg") >"$log" 2>&1 &
    local pid=$! waited=0
    while kill -0 "$pid" 2>/dev/null; do
      sleep 1
      waited=$((waited + 1))
      [ $((waited % 30)) -eq 0 ] && say "$name: still building, $(wc -l <"$log") packages compiled"
    done
    wait "$pid" || die "building $name failed (log: $log)" \
      "check that the Go module proxy is reachable (go env GOPROXY) and Go >= 1.25 is installed"
    rm -rf "$out" && mv "$out.tmp" "$out"
    # keep only the current build of this binary
    find "$cache_root/toolchain" -maxdepth 1 -name "$name-*" ! -path "$out" -exec rm -rf {} + 2>/dev/null || true
    say "$name $version: built"
  fi
  printf '%s\n' "$out/$name"
}

toolchain_from_go() {
  command -v go >/dev/null || die "go not found: the offline toolchain is built with Go" \
    "install Go >= 1.25 (https://go.dev/dl or Debian backports), or use VPL_PULUMI_FROM=installer"
  local cli lang cmd
  cli=$(go_build "$repo/tools/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi \
    "v$PULUMI_VERSION" github.com/pulumi/pulumi/sdk/v3/go/common/version.Version)
  lang=$(go_build "$repo/tools/language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
    pulumi-language-nodejs "v$PULUMI_LANGUAGE_NODEJS_VERSION" github.com/pulumi/pulumi/sdk/v3/go/common/version.Version)
  cmd=$(go_build "$repo/tools/command-provider" . pulumi-resource-command \
    "$PULUMI_COMMAND_VERSION" main.version)
  # The CLI and its language host in one real directory: the CLI looks for the host beside
  # its own (symlink-resolved) executable before PATH. The provider goes to the plugin cache.
  toolchain_dir="$cache_root/toolchain/bin"
  mkdir -p "$toolchain_dir"
  rm -f "$toolchain_dir/pulumi-resource-command"
  local f
  for f in "$cli" "$lang"; do
    cmp -s "$f" "$toolchain_dir/${f##*/}" || cp -f "$f" "$toolchain_dir/${f##*/}"
  done
  # Also register the provider in the plugin cache, so `pulumi plugin ls` lists it and the
  # engine resolves it by version even without the wrapper's PATH.
  local plugdir="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-command-v$PULUMI_COMMAND_VERSION"
  if ! cmp -s "$cmd" "$plugdir/pulumi-resource-command"; then
    PULUMI_SKIP_UPDATE_CHECK=true "$cli" plugin install resource command "$PULUMI_COMMAND_VERSION" \
      --file "$cmd" --reinstall >/dev/null 2>&1 ||
      die "pulumi plugin install resource command $PULUMI_COMMAND_VERSION --file $cmd failed" \
        "run that command to see why"
    say "pulumi-resource-command $PULUMI_COMMAND_VERSION: registered in $plugdir"
  fi
}

# The official toolchain (VPL_PULUMI_FROM=installer, needs internet or mirrors): Pulumi's install
# script puts the CLI and its language hosts in $PULUMI_HOME/bin (the real script ignores
# PULUMI_HOME, hence --install-root), `pulumi plugin install` puts the command provider in
# $PULUMI_HOME/plugins. Both are skipped when already in place at the pinned versions.
pulumi_quiet() { PULUMI_SKIP_UPDATE_CHECK=true "$toolchain_dir/pulumi" "$@"; }

# the last lines of a log, colour codes stripped, indented under an error
show_log_tail() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -v '^[[:space:]]*$' | tail -n "${2:-5}" | sed 's/^/[setup]   | /' >&2
}

toolchain_from_installer() {
  local home=${PULUMI_HOME:-$HOME/.pulumi}
  local url=${VPL_PULUMI_INSTALLER_URL:-https://get.pulumi.com}
  local server=${VPL_PULUMI_PLUGIN_SERVER:-}
  local offline="no internet? use the offline build: VPL_PULUMI_FROM=go"
  local log="$cache_root/pulumi-installer.log" script="$cache_root/pulumi-install.sh" got=""
  toolchain_dir="$home/bin"
  [ -x "$toolchain_dir/pulumi" ] && got=$(pulumi_quiet version 2>/dev/null || true)
  if [ "$got" = "v$PULUMI_VERSION" ]; then
    say "pulumi $PULUMI_VERSION: installed ($toolchain_dir)"
  else
    command -v curl >/dev/null || die "curl not found (the Pulumi installer needs it)" \
      "apt-get install curl, or use the offline build: VPL_PULUMI_FROM=go"
    say "pulumi $PULUMI_VERSION: Pulumi installer from $url into $toolchain_dir (log $log)"
    curl -fsSL -o "$script" "$url" 2>"$log" ||
      die "could not download the Pulumi installer from $url: $(tail -n 1 "$log")" \
        "$offline (or point VPL_PULUMI_INSTALLER_URL at a reachable copy)"
    if ! sh "$script" --version "$PULUMI_VERSION" --install-root "$home" --no-edit-path >"$log" 2>&1; then
      show_log_tail "$log"
      die "the Pulumi installer from $url failed installing $PULUMI_VERSION (log: $log)" "$offline"
    fi
    got=$(pulumi_quiet version 2>/dev/null || true)
    [ "$got" = "v$PULUMI_VERSION" ] ||
      die "the Pulumi installer from $url left pulumi '${got:-(none)}' in $toolchain_dir, expected v$PULUMI_VERSION" \
        "serve Pulumi $PULUMI_VERSION at VPL_PULUMI_INSTALLER_URL, or use the offline build: VPL_PULUMI_FROM=go"
    say "pulumi $PULUMI_VERSION: installed"
  fi

  local want="^command +resource +${PULUMI_COMMAND_VERSION//./\\.} " plog="$cache_root/pulumi-plugin-install.log"
  if grep -Eq "$want" <<<"$(pulumi_quiet plugin ls 2>/dev/null || true)"; then
    say "command provider $PULUMI_COMMAND_VERSION: installed"
    return
  fi
  # With --server, the CLI still asks the Pulumi Registry first and, when it answers, takes the
  # registry's download URL instead: PULUMI_DISABLE_REGISTRY_RESOLVE makes --server stick.
  local -a with=() from=()
  [ -n "$server" ] && with=(PULUMI_DISABLE_REGISTRY_RESOLVE=true) from=(--server "$server")
  say "command provider $PULUMI_COMMAND_VERSION: pulumi plugin install${server:+ from $server} (log $plog)"
  if ! env "${with[@]}" PULUMI_SKIP_UPDATE_CHECK=true "$toolchain_dir/pulumi" plugin install resource command \
    "$PULUMI_COMMAND_VERSION" "${from[@]}" >"$plog" 2>&1; then
    show_log_tail "$plog"
    die "pulumi plugin install resource command $PULUMI_COMMAND_VERSION${server:+ --server $server} failed (log: $plog)" \
      "$offline (or set VPL_PULUMI_PLUGIN_SERVER to a server with pulumi-resource-command-v$PULUMI_COMMAND_VERSION-linux-amd64.tar.gz)"
  fi
  grep -Eq "$want" <<<"$(pulumi_quiet plugin ls 2>/dev/null || true)" ||
    die "pulumi plugin install resource command $PULUMI_COMMAND_VERSION succeeded but \`pulumi plugin ls\` does not list it" \
      "check PULUMI_HOME ($home) and read $plog"
  say "command provider $PULUMI_COMMAND_VERSION: installed in $home/plugins"
}

install_toolchain() {
  case "$VPL_PULUMI_FROM" in
    go) toolchain_from_go ;;
    installer) toolchain_from_installer ;;
    *) die "VPL_PULUMI_FROM=$VPL_PULUMI_FROM is not known" "use go (offline build) or installer" ;;
  esac
  local got
  got=$("$toolchain_dir/pulumi" version)
  [ "$got" = "v$PULUMI_VERSION" ] ||
    die "pulumi version printed '$got', expected v$PULUMI_VERSION" "remove $cache_root/toolchain and re-run"
}

# ---------------------------------------------------------------- 4. PATH, backend, stacks
install_wrapper() {
  mkdir -p "$VPL_BIN_DIR" 2>/dev/null || true
  [ -w "$VPL_BIN_DIR" ] || die "cannot write the pulumi wrapper to $VPL_BIN_DIR" \
    "re-run as root, or set VPL_BIN_DIR to a directory on your PATH (e.g. ~/.local/bin)"
  local wrapper="$VPL_BIN_DIR/pulumi" tmp
  if [ -e "$wrapper" ] && ! grep -q 'vhost-perf-lab wrapper' "$wrapper" 2>/dev/null; then
    die "$wrapper exists and is not this project's wrapper" \
      "remove it, or set VPL_BIN_DIR to another directory on your PATH"
  fi
  tmp=$(mktemp "$VPL_BIN_DIR/.pulumi.XXXXXX")
  local settings
  settings=$(printf 'toolchain=%q\nvpl_home=%q\npulumi_home=%q' "$toolchain_dir" "$VPL_HOME" "${PULUMI_HOME:-}")
  SETTINGS=$settings awk '$0 == "# @SETTINGS@" { print ENVIRON["SETTINGS"]; found = 1; next } { print }
    END { exit !found }' "$repo/scripts/pulumi-wrapper.sh" >"$tmp" ||
    die "scripts/pulumi-wrapper.sh has no '# @SETTINGS@' line" "restore it: git checkout scripts/pulumi-wrapper.sh"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$wrapper"
  say "pulumi on PATH: $wrapper -> $toolchain_dir"
}

# A passphrase for the stacks' secrets; the wrapper points PULUMI_CONFIG_PASSPHRASE_FILE at it
# inside this project when neither PULUMI_CONFIG_PASSPHRASE nor _FILE is set.
ensure_passphrase() {
  mkdir -p "$VPL_HOME"
  chmod 0700 "$VPL_HOME"
  if [ ! -s "$VPL_HOME/passphrase" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$VPL_HOME/passphrase")
    say "passphrase: created $VPL_HOME/passphrase (keep it: it decrypts your stacks' secrets)"
  fi
}

ensure_stacks() {
  local f stack
  for f in "$repo"/Pulumi.*.yaml; do
    [ -e "$f" ] || continue
    stack=$(basename "$f" .yaml)
    stack=${stack#Pulumi.}
    if (cd "$repo" && "$VPL_BIN_DIR/pulumi" stack ls --json 2>/dev/null | grep -q "\"name\": \"$stack\""); then
      continue
    fi
    (cd "$repo" && "$VPL_BIN_DIR/pulumi" stack init "$stack" --non-interactive >/dev/null) ||
      die "pulumi stack init $stack failed" "run: cd $repo && pulumi stack init $stack"
    say "stack $stack: created in the file backend"
  done
}

usage() { sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

main() {
  local only=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --only)
        [ "${2:-}" = toolchain ] || die "--only takes 'toolchain', got '${2:-}'" "scripts/setup.sh --only toolchain"
        only=$2
        shift 2
        ;;
      -h | --help) usage && exit 0 ;;
      *) die "unknown argument: $1" "scripts/setup.sh [--only toolchain] (--help explains)" ;;
    esac
  done
  mkdir -p "$cache_root"
  if [ "$only" = toolchain ]; then
    install_toolchain
    install_wrapper
    say "toolchain ready: $("$VPL_BIN_DIR/pulumi" version) in $((SECONDS - t0)) s"
    return
  fi
  install_system_packages
  install_npm_packages
  install_toolchain
  install_wrapper
  ensure_passphrase
  mkdir -p "$VPL_HOME/state"
  ensure_stacks
  say "ready: $("$VPL_BIN_DIR/pulumi" version) (backend file://$VPL_HOME/state) in $((SECONDS - t0)) s"
}

main "$@"
