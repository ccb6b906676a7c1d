#!/usr/bin/env bash
# Local traffic-generator wiring of the vhost-perf-lab (DESIGN.md §4): a network namespace for
# trafgen and two veth pairs. The host ends are the vswitch's net_af_packet ports; the netns ends
# are where trafgen sends (tg0) and counts what came back (tg1).
#
#   host: TG_HOST_IFS[0] <--veth--> netns TG_NETNS: TG_NS_IFS[0]   (trafgen tx)
#   host: TG_HOST_IFS[1] <--veth--> netns TG_NETNS: TG_NS_IFS[1]   (rx counter)
#
# Usage (as root, e.g. `bash -s -- setup < tg-netns.sh` over SSH):
#   tg-netns.sh setup      create what is missing, (re)apply link state, MTU, IPv6 off; idempotent.
#                          Leftovers of a half-torn earlier setup (a veth of these names whose peer
#                          is not its partner in the netns) are removed and made again. When a
#                          step fails or SIGTERM/SIGINT arrives, what this run created (veth pairs,
#                          the netns) is removed again before exiting non-zero.
#   tg-netns.sh teardown   remove exactly these veths and the netns (if it is then empty); idempotent
#   tg-netns.sh status     print the wiring as JSON; the drift probe of the wiring
# Exit codes: 0 done (status: netns and every veth pair present); 1 failed (setup: undone as
#   above); 3 status only: the netns or a veth end is missing (JSON line still printed);
#   130/143 setup interrupted by SIGINT/SIGTERM (undone as above).
# Environment:
#   TG_NETNS     namespace name                       (default vpl-tg)
#   TG_HOST_IFS  host-side veth ends, comma-separated (default vpl-sw0,vpl-sw1)
#   TG_NS_IFS    netns-side veth ends, same count     (default vpl-tg0,vpl-tg1)
#   TG_MTU       MTU on every end                     (default 1500; 9000B frames need >= 8982)
#   TG_MGMT      optional management cable of a TG host living in the netns (its own sshd):
#                "<host end>,<netns end>,<host address/prefix>,<netns address/prefix>", e.g.
#                "gen-mgmt,mgmt0,10.250.22.1/30,10.250.22.2/30": one more veth pair, addressed
# Prints one JSON line on stdout; diagnostics go to stderr.
set -euo pipefail

NS="${TG_NETNS:-vpl-tg}"
HOST_IFS_CSV="${TG_HOST_IFS:-vpl-sw0,vpl-sw1}"
NS_IFS_CSV="${TG_NS_IFS:-vpl-tg0,vpl-tg1}"
MTU="${TG_MTU:-1500}"

note() { printf 'tg-netns: %s\n' "$*" >&2; }
# UNDO=1 while setup changes the host: a failure or signal removes what this run created
UNDO=0
CREATED_NS=0
CREATED_LINKS=()
die() {
  printf 'tg-netns: ERROR: %s\n' "$*" >&2
  if [[ "$UNDO" == 1 && "$BASH_SUBSHELL" == 0 ]]; then
    undo_setup
    printf 'tg-netns: ERROR: %s (setup undone)\n' "$*" >&2
  fi
  exit 1
}
on_exit() {
  local rc=$?
  if [[ "$rc" != 0 && "$UNDO" == 1 && "$BASH_SUBSHELL" == 0 ]]; then
    note "setup stopped unexpectedly (exit $rc): undoing it"
    undo_setup
    note "ERROR: setup failed (exit $rc), setup undone"
  fi
}
on_signal() { # signal-name exit-code
  trap - EXIT
  if [[ "$UNDO" == 1 ]]; then
    note "interrupted by SIG$1: undoing the setup"
    undo_setup
    note "ERROR: interrupted by SIG$1 (setup undone)"
  else
    note "ERROR: interrupted by SIG$1"
  fi
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# remove what this setup run created, newest first
undo_setup() {
  local i
  trap '' TERM INT
  UNDO=0
  for ((i = ${#CREATED_LINKS[@]} - 1; i >= 0; i--)); do
    if ip link del dev "${CREATED_LINKS[$i]}" 2>/dev/null; then note "removed veth ${CREATED_LINKS[$i]}"; fi
  done
  if [[ "$CREATED_NS" == 1 ]] && ip netns del "$NS" 2>/dev/null; then note "removed netns $NS"; fi
  release_netns_mount
}

IFS=',' read -r -a HOST_IFS <<<"$HOST_IFS_CSV"
IFS=',' read -r -a NS_IFS <<<"$NS_IFS_CSV"
MGMT=()
[ -z "${TG_MGMT:-}" ] || IFS=',' read -r -a MGMT <<<"$TG_MGMT"
if ((${#MGMT[@]} > 0)); then
  # the management cable is one more pair (made, checked and removed like the others)
  HOST_IFS+=("${MGMT[0]:-}")
  NS_IFS+=("${MGMT[1]:-}")
fi

validate() {
  # names start with a letter or digit: never taken for an option by ip
  [[ "$NS" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || die "bad netns name '$NS'"
  if ! [[ "$MTU" =~ ^[0-9]+$ ]] || ((MTU < 68 || MTU > 65535)); then
    die "bad MTU '$MTU'"
  fi
  ((${#HOST_IFS[@]} >= 1)) || die "TG_HOST_IFS is empty"
  ((${#HOST_IFS[@]} == ${#NS_IFS[@]})) || die "TG_HOST_IFS and TG_NS_IFS differ in length"
  local name cidr
  if ((${#MGMT[@]} > 0)); then
    ((${#MGMT[@]} == 4)) || die "TG_MGMT '${TG_MGMT:-}' is not <host end>,<netns end>,<host addr/prefix>,<netns addr/prefix>"
    for cidr in "${MGMT[2]}" "${MGMT[3]}"; do
      [[ "$cidr" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || die "TG_MGMT: '$cidr' is not an IPv4 address/prefix"
    done
  fi
  for name in "${HOST_IFS[@]}" "${NS_IFS[@]}"; do
    # Linux interface names: at most 15 bytes, no '/', no whitespace.
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$ ]] || die "bad interface name '$name'"
  done
}

ns_exists() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$NS"
}

host_link_exists() {
  ip link show dev "$1" >/dev/null 2>&1
}

ns_link_exists() {
  ns_exists && ip -n "$NS" link show dev "$1" >/dev/null 2>&1
}

is_veth() {
  ip -d link show dev "$1" 2>/dev/null | grep -qw veth
}

# host end $1 and netns end $2 are the two ends of one veth: each one's iflink is the other's ifindex
paired() {
  local h_index h_link n_index n_link
  h_index=$(cat "/sys/class/net/$1/ifindex" 2>/dev/null) || return 1
  h_link=$(cat "/sys/class/net/$1/iflink" 2>/dev/null) || return 1
  n_index=$(ip netns exec "$NS" cat "/sys/class/net/$2/ifindex" 2>/dev/null) || return 1
  n_link=$(ip netns exec "$NS" cat "/sys/class/net/$2/iflink" 2>/dev/null) || return 1
  [[ "$h_link" == "$n_index" && "$n_link" == "$h_index" ]]
}

# `ip netns add` turns /run/netns into a (shared) bind mount the first time: a host-wide marker
# says the lab made it, and whichever stack leaves /run/netns empty takes the mount away again.
readonly NETNS_DIR=/run/netns NETNS_MARK=/run/.vhost-perf-lab-netns-mount
netns_mounted() { awk -v d="$NETNS_DIR" '$2 == d {f=1} END {exit !f}' /proc/mounts; }

release_netns_mount() {
  [ -f "$NETNS_MARK" ] && netns_mounted || return 0
  [ -z "$(ls -A -- "$NETNS_DIR" 2>/dev/null)" ] || return 0
  umount -- "$NETNS_DIR" || return 0
  rmdir -- "$NETNS_DIR" 2>/dev/null || true
  rm -f -- "$NETNS_MARK"
  note "removed the $NETNS_DIR mount the lab's first netns made"
}

setup() {
  UNDO=1 # from here on a failure removes what this run created
  if ! netns_mounted && [ ! -e "$NETNS_DIR" ]; then
    : >"$NETNS_MARK"
  fi
  if ! ns_exists; then
    ip netns add "$NS"
    CREATED_NS=1
  fi
  ip -n "$NS" link set dev lo up
  local i host nsif
  for i in "${!HOST_IFS[@]}"; do
    host="${HOST_IFS[$i]}"
    nsif="${NS_IFS[$i]}"
    if host_link_exists "$host"; then
      is_veth "$host" || die "$host exists and is not a veth; refusing to touch it"
      if ! paired "$host" "$nsif"; then
        # a leftover: our veth's peer is elsewhere (or gone with an earlier netns)
        note "$host is a veth whose peer is not $nsif in netns $NS (leftover): making the pair again"
        ip link del dev "$host"
      fi
    fi
    if ! host_link_exists "$host"; then
      if ns_link_exists "$nsif"; then
        note "$nsif in netns $NS has no peer $host (leftover): removing it"
        ip -n "$NS" link del dev "$nsif"
      fi
      ip link add "$host" mtu "$MTU" type veth peer name "$nsif" netns "$NS" mtu "$MTU"
      CREATED_LINKS+=("$host")
    fi
    # IPv6 off before the links come up: no router/neighbour solicitations, no MLD reports.
    # (/proc paths, not sysctl keys: a '.' in an interface name would split the key)
    { printf '1\n' >"/proc/sys/net/ipv6/conf/${host}/disable_ipv6"; } 2>/dev/null || true
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$NS" sh -c 'printf "1\n" >"/proc/sys/net/ipv6/conf/$1/disable_ipv6"' - "$nsif" 2>/dev/null || true
    ip link set dev "$host" mtu "$MTU" up
    ip -n "$NS" link set dev "$nsif" mtu "$MTU" up
  done
  if ((${#MGMT[@]} > 0)); then
    ip addr replace "${MGMT[2]}" dev "${MGMT[0]}"
    ip -n "$NS" addr replace "${MGMT[3]}" dev "${MGMT[1]}"
  fi
  UNDO=0
}

teardown() {
  local i host nsif
  for i in "${!HOST_IFS[@]}"; do
    host="${HOST_IFS[$i]}"
    nsif="${NS_IFS[$i]}"
    # Deleting either end of a veth removes both.
    if host_link_exists "$host"; then
      is_veth "$host" || die "$host is not a veth; refusing to delete it"
      ip link del dev "$host"
    elif ns_link_exists "$nsif"; then
      ip -n "$NS" link del dev "$nsif"
    fi
  done
  if ns_exists; then
    # Only remove the namespace when nothing else lives in it (loopback aside).
    local others
    others="$(ip -n "$NS" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -vx lo || true)"
    if [[ -z "$others" ]]; then
      ip netns del "$NS"
    else
      printf 'tg-netns: netns %s kept, it still holds: %s\n' "$NS" "$(echo "$others" | tr '\n' ' ')" >&2
    fi
  fi
  release_netns_mount
}

json_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

status() {
  local action="$1" i host nsif sep="" links=""
  for i in "${!HOST_IFS[@]}"; do
    host="${HOST_IFS[$i]}"
    nsif="${NS_IFS[$i]}"
    local hstate="absent" nstate="absent"
    if host_link_exists "$host"; then
      hstate="$(cat "/sys/class/net/${host}/operstate" 2>/dev/null || echo unknown)"
    fi
    if ns_link_exists "$nsif"; then
      nstate="$(ip netns exec "$NS" cat "/sys/class/net/${nsif}/operstate" 2>/dev/null || echo unknown)"
    fi
    links+="${sep}{\"host\":$(json_str "$host"),\"hostState\":$(json_str "$hstate"),\"ns\":$(json_str "$nsif"),\"nsState\":$(json_str "$nstate")}"
    sep=","
  done
  local present=false
  ns_exists && present=true
  printf '{"action":%s,"netns":%s,"netnsPresent":%s,"mtu":%s,"links":[%s]}\n' \
    "$(json_str "$action")" "$(json_str "$NS")" "$present" "$MTU" "$links"
}

main() {
  local cmd="${1:-}"
  validate
  case "$cmd" in
  setup)
    [[ "$(id -u)" == 0 ]] || die "setup needs root"
    setup
    status setup
    ;;
  teardown)
    [[ "$(id -u)" == 0 ]] || die "teardown needs root"
    teardown
    status teardown
    ;;
  status)
    status status
    ns_exists || exit 3
    local i
    for i in "${!HOST_IFS[@]}"; do
      host_link_exists "${HOST_IFS[$i]}" && ns_link_exists "${NS_IFS[$i]}" || exit 3
    done
    ;;
  *) die "usage: tg-netns.sh setup|teardown|status" ;;
  esac
}

main "$@"
