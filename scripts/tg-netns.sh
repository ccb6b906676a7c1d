#!/usr/bin/env bash
# Local traffic-generator wiring of the vhost-perf-lab (DESIGN.md §4): a network namespace for
# trafgen and two veth pairs. The host ends are the vswitch's net_af_packet ports; the netns ends
# are where trafgen sends (tg0) and counts what came back (tg1).
#
#   host: TG_HOST_IFS[0] <--veth--> netns TG_NETNS: TG_NS_IFS[0]   (trafgen tx)
#   host: TG_HOST_IFS[1] <--veth--> netns TG_NETNS: TG_NS_IFS[1]   (rx counter)
#
# Usage (as root, e.g. `bash -s -- setup < tg-netns.sh` over SSH):
#   tg-netns.sh setup      create what is missing, (re)apply link state, MTU, IPv6 off; idempotent
#   tg-netns.sh teardown   remove exactly these veths and the netns (if it is then empty); idempotent
#   tg-netns.sh status     print the wiring as JSON
# Environment:
#   TG_NETNS     namespace name                       (default vpl-tg)
#   TG_HOST_IFS  host-side veth ends, comma-separated (default vpl-sw0,vpl-sw1)
#   TG_NS_IFS    netns-side veth ends, same count     (default vpl-tg0,vpl-tg1)
#   TG_MTU       MTU on every end                     (default 1500; 9000B frames need >= 8982)
# Prints one JSON line on stdout; diagnostics go to stderr.
set -euo pipefail

NS="${TG_NETNS:-vpl-tg}"
HOST_IFS_CSV="${TG_HOST_IFS:-vpl-sw0,vpl-sw1}"
NS_IFS_CSV="${TG_NS_IFS:-vpl-tg0,vpl-tg1}"
MTU="${TG_MTU:-1500}"

die() {
  printf 'tg-netns: %s\n' "$*" >&2
  exit 1
}

IFS=',' read -r -a HOST_IFS <<<"$HOST_IFS_CSV"
IFS=',' read -r -a NS_IFS <<<"$NS_IFS_CSV"

validate() {
  [[ "$NS" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "bad netns name '$NS'"
  if ! [[ "$MTU" =~ ^[0-9]+$ ]] || ((MTU < 68 || MTU > 65535)); then
    die "bad MTU '$MTU'"
  fi
  ((${#HOST_IFS[@]} >= 1)) || die "TG_HOST_IFS is empty"
  ((${#HOST_IFS[@]} == ${#NS_IFS[@]})) || die "TG_HOST_IFS and TG_NS_IFS differ in length"
  local name
  for name in "${HOST_IFS[@]}" "${NS_IFS[@]}"; do
    # Linux interface names: at most 15 bytes, no '/', no whitespace.
    [[ "$name" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || die "bad interface name '$name'"
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

# The peer's ifindex as the host sees it, to tell our veth from a same-named stranger.
is_veth() {
  ip -d link show dev "$1" 2>/dev/null | grep -qw veth
}

setup() {
  if ! ns_exists; then
    ip netns add "$NS"
  fi
  ip -n "$NS" link set dev lo up
  local i host nsif
  for i in "${!HOST_IFS[@]}"; do
    host="${HOST_IFS[$i]}"
    nsif="${NS_IFS[$i]}"
    if host_link_exists "$host"; then
      is_veth "$host" || die "$host exists and is not a veth; refusing to touch it"
      ns_link_exists "$nsif" || die "$host exists but its peer $nsif is not in netns $NS"
    else
      ns_link_exists "$nsif" && die "$nsif exists in $NS without $host; run teardown first"
      ip link add "$host" mtu "$MTU" type veth peer name "$nsif" netns "$NS" mtu "$MTU"
    fi
    # IPv6 off before the links come up: no router/neighbour solicitations, no MLD reports.
    sysctl -qw "net.ipv6.conf.${host}.disable_ipv6=1" >/dev/null 2>&1 || true
    ip netns exec "$NS" sysctl -qw "net.ipv6.conf.${nsif}.disable_ipv6=1" >/dev/null 2>&1 || true
    ip link set dev "$host" mtu "$MTU" up
    ip -n "$NS" link set dev "$nsif" mtu "$MTU" up
  done
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
  status) status status ;;
  *) die "usage: tg-netns.sh setup|teardown|status" ;;
  esac
}

main "$@"
