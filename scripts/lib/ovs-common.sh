#!/usr/bin/env bash
# Helpers of scripts/vswitch-ovs.sh (sourced): pure text and /proc work, no OVS state changed.
# shellcheck shell=bash

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# Running and not a zombie.
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

json_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/ }"
  printf '"%s"' "$s"
}

# Hex CPU mask of a comma list of CPU numbers: "1,3" -> 0xa.
core_mask() {
  local mask=0 c
  IFS=',' read -r -a _cores <<<"$1"
  for c in "${_cores[@]}"; do mask=$((mask | (1 << c))); done
  printf '0x%x' "$mask"
}

# DPDK devargs of a NIC port spec: af_packet:<ifname> -> an af_packet vdev on that interface
# (one queue pair; index i names the vdev), pci:<address> -> the PCI address.
nic_devargs() { # spec [index]
  local spec="$1" i="${2:-0}"
  case "$spec" in
  af_packet:*)
    [[ "${spec#af_packet:}" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || return 1
    printf 'net_af_packet%s,iface=%s,qpairs=1' "$i" "${spec#af_packet:}"
    ;;
  pci:*)
    [[ "${spec#pci:}" =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] || return 1
    printf '%s' "${spec#pci:}"
    ;;
  *) return 1 ;;
  esac
}

# OpenFlow rules of the l2 cross-connect: NIC i has ofport 2i+1, vhost j 2j+2; each pair both
# ways. Without vhost ports: NIC 0 <-> NIC 1 (a VM-less smoke setup). Two NIC ports and 2n vhost
# ports (n VMs, two sockets each, VM order): a chain, NIC 0 <-> vhost 0, vhost 2k-1 <-> vhost 2k
# (VM k's second NIC to VM k+1's first), vhost 2n-1 <-> NIC 1. Otherwise NIC i <-> vhost i.
flow_pair() { # ofport-a ofport-b
  printf 'in_port=%d,actions=output:%d\nin_port=%d,actions=output:%d\n' "$1" "$2" "$2" "$1"
}
flow_rules() { # nic-count vhost-count
  local i
  if (($2 == 0)); then
    flow_pair 1 3
    return 0
  fi
  if (($1 == 2)); then
    flow_pair 1 2
    for ((i = 1; i + 1 < $2; i += 2)); do flow_pair $((2 * i + 2)) $((2 * i + 4)); done
    flow_pair $((2 * $2)) 3
    return 0
  fi
  for ((i = 0; i < $1; i++)); do flow_pair $((2 * i + 1)) $((2 * i + 2)); done
}

# The PMD threads of ovs-vswitchd (comm pmd-c<core>/id:<n>): tid, name, allowed CPUs.
pmd_threads_json() { # pid
  local t comm cpus sep="" out=""
  for t in /proc/"$1"/task/*; do
    comm="$(cat "$t/comm" 2>/dev/null || true)"
    [[ "$comm" == pmd* ]] || continue
    cpus="$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null || true)"
    out+="${sep}{\"tid\":${t##*/},\"name\":$(json_str "$comm"),\"cpus\":$(json_str "$cpus")}"
    sep=","
  done
  printf '[%s]' "$out"
}

# Removes the DPDK runtime dir and hugepage files of a file-prefix no process maps (OVS takes
# the prefix from its database, not argv: the mappings tell); prints the number of files removed.
cleanup_dpdk_files() { # prefix
  local mnt f removed=0
  if grep -lsF -- "/$1map_" /proc/[0-9]*/maps >/dev/null; then
    printf '0'
    return 0
  fi
  while read -r mnt; do
    [[ -n "$mnt" ]] || continue
    for f in "${mnt}/$1map_"*; do
      [[ -e "$f" ]] || continue
      rm -f -- "$f"
      removed=$((removed + 1))
    done
  done < <(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts)
  if [[ -d "/var/run/dpdk/$1" ]]; then rm -rf -- "/var/run/dpdk/$1"; fi
  rmdir -- /var/run/dpdk 2>/dev/null || true
  printf '%s' "$removed"
}
