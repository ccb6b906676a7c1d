# shellcheck shell=bash disable=SC2154,SC2034 # rec, stack, say, die, INSTALLING: the sourcing script's
# VPP on the DUT from FD.io's apt repository, or a preinstalled VPP checked; sourced by
# scripts/vswitch-vpp.sh (which sets say, die, json_str, $rec, $stack and the VPP_* settings).
#
# The three packages a vhost-user l2 lab needs (vpp, vpp-plugin-core, vpp-plugin-dpdk) at exactly
# VPP_VERSION. From the repository: its signing key is downloaded and refused unless its
# fingerprint is VPP_KEY_FPR; the key goes to a keyring of its own ($APT_ETC/keyrings/...) and the
# source list names it (signed-by), so the key signs this repository only. The packages'
# maintainer scripts would start vpp.service and apply /etc/sysctl.d/80-vpp.conf (hugepages,
# max_map_count, shmmax) at once: a policy-rc.d denies service starts during apt, and the sysctl
# values found before are put back after (the lab's own tuning owns them).

PKGS=(vpp vpp-plugin-core vpp-plugin-dpdk)
INSTALL_HINT="vhost-perf-lab:vswitch.options.version / vswitch.options.install"
APT_ETC=${VPP_APT_ETC:-/etc/apt}
POLICY_RC=${VPP_POLICY_RC:-/usr/sbin/policy-rc.d}
PROC_SYS=${VPP_PROC_SYS:-/proc/sys}
SYSCTLS=(vm/nr_hugepages vm/max_map_count kernel/shmmax)
KEYRING=$APT_ETC/keyrings/vpl-fdio-$stack.gpg
SRCLIST=$APT_ETC/sources.list.d/vpl-fdio-$stack.list

# "<package>=<version>" of each installed package, one a line (absent ones left out)
installed_versions() {
  local p line
  for p in "${PKGS[@]}"; do
    line=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}\n' "$p" 2>/dev/null || true)
    case "$line" in ii*) printf '%s=%s\n' "$p" "${line#*|}" ;; esac
  done
}

# exit 0 when all three are installed at VPP_VERSION; else the reason on stdout
install_problem() {
  local have p v missing=() other=()
  have=$(installed_versions)
  for p in "${PKGS[@]}"; do
    v=$(sed -n "s/^$p=//p" <<<"$have")
    if [ -z "$v" ]; then missing+=("$p"); elif [ "$v" != "$VPP_VERSION" ]; then other+=("$p $v"); fi
  done
  if [ "${#other[@]}" -gt 0 ]; then
    echo "the DUT has ${other[*]}; the config asks for $VPP_VERSION"
    return 1
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "${missing[*]} not installed (VPP $VPP_VERSION wanted)"
    return 1
  fi
}

sysctl_path() { printf '%s/%s\n' "$PROC_SYS" "$1"; }
record_sysctls() {
  local s
  : >"$rec/sysctl.before"
  for s in "${SYSCTLS[@]}"; do
    [ -r "$(sysctl_path "$s")" ] && printf '%s=%s\n' "$s" "$(cat -- "$(sysctl_path "$s")")" >>"$rec/sysctl.before"
  done
  return 0
}
restore_sysctls() {
  local s v now
  [ -f "$rec/sysctl.before" ] || return 0
  while IFS='=' read -r s v; do
    now=$(cat -- "$(sysctl_path "$s")" 2>/dev/null || true)
    if [ "$now" != "$v" ]; then
      printf '%s\n' "$v" >"$(sysctl_path "$s")" || say "WARNING: could not put $s back to $v (it is $now)"
      say "put $s back to $v (the packages' scripts set $now)"
    fi
  done <"$rec/sysctl.before"
  rm -f -- "$rec/sysctl.before"
}

# policy-rc.d denying service starts while apt runs; removed after (only when we made it)
POLICY_MADE=0
deny_service_starts() {
  if [ ! -e "$POLICY_RC" ]; then
    mkdir -p -- "$(dirname -- "$POLICY_RC")"
    printf '#!/bin/sh\n# vhost-perf-lab: no service starts while VPP is installed (removed after)\nexit 101\n' >"$POLICY_RC"
    chmod 0755 -- "$POLICY_RC"
    POLICY_MADE=1
  else
    say "$POLICY_RC exists already: left as it is"
  fi
}
allow_service_starts() {
  [ "$POLICY_MADE" = 1 ] || return 0
  rm -f -- "$POLICY_RC"
  POLICY_MADE=0
}

apt_only_ours() {
  apt-get -o "Dir::Etc::sourcelist=$SRCLIST" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 "$@"
}

# the key from VPP_KEY_URL into $KEYRING, refused unless VPP_KEY_FPR is among its fingerprints
fetch_key() {
  local tmp fprs
  tmp=$(mktemp -- "$rec/.key.XXXXXX")
  TMPFILES+=("$tmp")
  say "downloading the repository's signing key $VPP_KEY_URL"
  curl -fsSL --retry 3 -o "$tmp" -- "$VPP_KEY_URL" ||
    die "download of $VPP_KEY_URL failed" "check vswitch.options.install.keyUrl and the DUT's network"
  fprs=$(gpg --batch --with-colons --show-keys "$tmp" 2>/dev/null | awk -F: '$1 == "fpr" {print $10}') ||
    die "$VPP_KEY_URL is not an OpenPGP key" "check vswitch.options.install.keyUrl"
  grep -qx -- "$VPP_KEY_FPR" <<<"$fprs" ||
    die "the key at $VPP_KEY_URL has fingerprint(s) $(tr '\n' ' ' <<<"$fprs")- not $VPP_KEY_FPR: refused" \
      "check vswitch.options.install.keyFingerprint against FD.io's published key (a changed key or a wrong pin)"
  mkdir -p -- "$(dirname -- "$KEYRING")"
  if grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$tmp"; then
    gpg --batch --yes --dearmor -o "$KEYRING.vpl-tmp" "$tmp"
  else
    cp -- "$tmp" "$KEYRING.vpl-tmp"
  fi
  chmod 0644 -- "$KEYRING.vpl-tmp"
  mv -f -- "$KEYRING.vpl-tmp" "$KEYRING"
  say "key $VPP_KEY_FPR checked: $KEYRING"
}

# undo of a half-done install: what this run created
APT_STARTED=0
undo_install() {
  trap '' TERM INT
  if [ "$APT_STARTED" = 1 ]; then
    say "removing the packages this install put on"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y "${PKGS[@]}" >&2 || say "WARNING: apt-get purge failed"
  fi
  allow_service_starts
  restore_sysctls
  rm -f -- "$SRCLIST" "$KEYRING" "$KEYRING.vpl-tmp" "$rec/install"
}

do_install() {
  local problem want=() v p
  mkdir -p -- "$rec"
  if problem=$(install_problem); then
    if [ ! -f "$rec/install" ]; then printf 'created=0\nversion=%s\n' "$VPP_VERSION" >"$rec/install"; fi
    if [ "$(sed -n 's/^created=//p' -- "$rec/install")" = 1 ]; then
      say "VPP $VPP_VERSION installed by this stack"
    else
      say "VPP $VPP_VERSION found (not the lab's: kept on destroy)"
    fi
    return 0
  fi
  if [ "${VPP_INSTALL:-preinstalled}" = preinstalled ]; then
    die "VPP is expected preinstalled, but $problem" \
      "install ${PKGS[*]} $VPP_VERSION on the DUT, or set $INSTALL_HINT (kind: repository installs it)"
  fi
  [ -z "$(installed_versions)" ] || die "$problem; the lab does not up- or downgrade a VPP it did not install" \
    "remove VPP from the DUT, or set $INSTALL_HINT to the version there"
  for v in VPP_REPO_URL VPP_REPO_SUITE VPP_REPO_COMPONENT VPP_KEY_URL; do
    [ -n "${!v:-}" ] || die "$v is not set for kind: repository" "set vswitch.options.install"
  done
  [[ ${VPP_KEY_FPR:-} =~ ^[0-9A-F]{40}$ ]] || die "VPP_KEY_FPR '${VPP_KEY_FPR:-}' is not 40 upper-case hex digits"
  INSTALLING=1
  printf 'created=1\nversion=%s\n' "$VPP_VERSION" >"$rec/install"
  fetch_key
  mkdir -p -- "$(dirname -- "$SRCLIST")"
  printf 'deb [signed-by=%s] %s %s %s\n' "$KEYRING" "$VPP_REPO_URL" "$VPP_REPO_SUITE" "$VPP_REPO_COMPONENT" >"$SRCLIST"
  record_sysctls
  deny_service_starts
  say "apt-get update (only $SRCLIST)"
  apt_only_ours update >&2 || die "apt-get update of $VPP_REPO_URL failed" "check vswitch.options.install (url, suite, component)"
  for p in "${PKGS[@]}"; do want+=("$p=$VPP_VERSION"); done
  say "apt-get install ${want[*]}"
  APT_STARTED=1
  DEBIAN_FRONTEND=noninteractive apt_only_ours install -y --no-install-recommends "${want[@]}" >&2 ||
    die "apt-get install ${want[*]} failed" "check that $VPP_REPO_URL $VPP_REPO_SUITE has VPP $VPP_VERSION"
  allow_service_starts
  restore_sysctls
  problem=$(install_problem) || die "after apt-get: $problem"
  INSTALLING=0
  say "installed VPP $VPP_VERSION from $VPP_REPO_URL"
}

do_uninstall() {
  [ -f "$rec/install" ] || { say "no install record: nothing of the lab's to remove"; return 0; }
  if [ "$(sed -n 's/^created=//p' -- "$rec/install")" = 1 ]; then
    trap '' TERM INT
    record_sysctls
    deny_service_starts
    say "apt-get purge ${PKGS[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y "${PKGS[@]}" >&2 || say "WARNING: apt-get purge failed"
    allow_service_starts
    restore_sysctls
    rm -f -- "$SRCLIST" "$KEYRING"
  else
    say "VPP was there before the lab: kept"
  fi
  rm -f -- "$rec/install"
}
