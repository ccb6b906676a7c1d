#!/usr/bin/env bash
# Bind PCI NICs to the driver DPDK needs (vfio-pci, or a uio driver: igb_uio, uio_pci_generic)
# and put each back on the driver it had (issue 11, "NICs for DPDK on labs").
#
#   nic-bind.sh up       for each device: refuse it when it is in use (its interface is up or
#                        has addresses), record its driver, driver_override, MAC and interface in
#                        $LAB_STATE_DIR/nic-bind/<pci> BEFORE changing it, then driver_override =
#                        target, unbind, bind. Idempotent: a device already on its target with a
#                        record is left alone. Everything is checked (devices, drivers, IOMMU,
#                        use) before the first change; a failure or TERM/INT half way puts every
#                        device this run changed back as it was.
#   nic-bind.sh down     put every recorded device back: its driver_override as it was, unbound
#                        from the target, bound to its original driver; the record goes
#   nic-bind.sh status   exit 0 every device is on its target and recorded; 3 gone or drifted
#
# vfio-pci needs an IOMMU: /sys/kernel/iommu_groups non-empty, or vfio's no-IOMMU mode
# (/sys/module/vfio/parameters/enable_unsafe_noiommu_mode = Y).
#
# Environment:
#   NIC_BIND        "<pci>=<driver>,..." e.g. "0000:3b:00.0=vfio-pci,0000:3b:00.1=vfio-pci"
#   LAB_STATE_DIR   the stack's records (set by step.sh)
#   SYSFS_ROOT      sysfs (default /sys); tests point it at a fake tree
#   SYSFS_WRITE_HOOK  tests only: a program run as `hook <file> <value>` after each sysfs write,
#                   playing the kernel's part on a fake tree (a non-zero exit = the write failed)
# Output: progress on stderr, ONE JSON line on stdout:
#   {"action":"up","driverOk":true,"devices":[{"pci":..,"driver":..,"target":..,"original":..,
#    "mac":..,"ifname":..,"numaNode":N,"changed":true|false}]}
# Exit codes: 0 done; 1 refused or failed (up: undone); 3 status: gone or drifted; 130/143
#   interrupted (undone).
set -euo pipefail

SYS=${SYSFS_ROOT:-/sys}
PCI_DEVS=$SYS/bus/pci/devices
PCI_DRVS=$SYS/bus/pci/drivers
say() { printf 'nic-bind: %s\n' "$*" >&2; }
die() {
  say "ERROR: $1"
  [ $# -lt 2 ] || say "fix: $2"
  exit 1
}
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

state=${LAB_STATE_DIR:-}
[[ $state == /* ]] || die "LAB_STATE_DIR '$state' is not an absolute path" "run it through the lab's step wrapper (scripts/lib/step.sh)"
rec_dir=$state/nic-bind

DEVS=()
TARGETS=()
IFS=',' read -r -a pairs <<<"${NIC_BIND:-}"
for p in "${pairs[@]}"; do
  [[ $p =~ ^([0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7])=([A-Za-z0-9_-]{1,32})$ ]] ||
    die "NIC_BIND: '$p' is not <pci>=<driver> (e.g. 0000:3b:00.0=vfio-pci)"
  DEVS+=("${BASH_REMATCH[1]}")
  TARGETS+=("${BASH_REMATCH[2]}")
done
((${#DEVS[@]} > 0)) || die "NIC_BIND is empty" "NIC_BIND=<pci>=<driver>,... (the TG's hosts[].nics[].pci and .driver)"

# --- sysfs ---------------------------------------------------------------------------------
sysfs_write() { # file value
  printf '%s\n' "$2" >"$1" 2>/dev/null || return 1
  if [ -n "${SYSFS_WRITE_HOOK:-}" ]; then "$SYSFS_WRITE_HOOK" "$1" "$2" || return 1; fi
}
cur_driver() { # the driver a device is bound to, empty when none
  local l
  l=$(readlink -- "$PCI_DEVS/$1/driver" 2>/dev/null) || return 0
  printf '%s\n' "${l##*/}"
}
netif() { # the device's network interface (bound to a kernel netdev driver), empty when none
  local d
  for d in "$PCI_DEVS/$1"/net/*; do
    [ -e "$d" ] || continue
    printf '%s\n' "${d##*/}"
    return 0
  done
}
read_or() { cat -- "$1" 2>/dev/null || printf '%s\n' "$2"; }

unbind() { # pci: unbind from its current driver, if any
  local cur
  cur=$(cur_driver "$1")
  [ -n "$cur" ] || return 0
  sysfs_write "$PCI_DRVS/$cur/unbind" "$1" || return 1
  [ -z "$(cur_driver "$1")" ]
}
bind_to() { # pci driver
  sysfs_write "$PCI_DEVS/$1/driver_override" "$2" || return 1
  unbind "$1" || return 1
  sysfs_write "$PCI_DRVS/$2/bind" "$1" || return 1
  [ "$(cur_driver "$1")" = "$2" ]
}

# --- records -------------------------------------------------------------------------------
rec_get() { sed -n "s/^$2=//p" -- "$rec_dir/$1" 2>/dev/null | head -n 1 || true; }
write_rec() { # pci original override mac ifname target
  mkdir -p -- "$rec_dir"
  printf 'original=%s\noverride=%s\nmac=%s\nifname=%s\ntarget=%s\n' "$2" "$3" "$4" "$5" "$6" >"$rec_dir/$1.tmp"
  mv -f -- "$rec_dir/$1.tmp" "$rec_dir/$1"
}

# put a device back as its record says; the record goes when that worked
restore() { # pci
  local pci=$1 orig ovr ok=1
  [ -f "$rec_dir/$pci" ] || return 0
  if [ ! -e "$PCI_DEVS/$pci" ]; then
    say "$pci is gone (removed from the host): dropping its record"
    rm -f -- "$rec_dir/$pci"
    return 0
  fi
  orig=$(rec_get "$pci" original)
  ovr=$(rec_get "$pci" override)
  [ "$ovr" != "(null)" ] || ovr=""
  if [ "$(cur_driver "$pci")" != "$orig" ]; then
    sysfs_write "$PCI_DEVS/$pci/driver_override" "${orig:-}" || ok=0
    unbind "$pci" || ok=0
    if [ -n "$orig" ] && [ "$ok" = 1 ]; then
      sysfs_write "$PCI_DRVS/$orig/bind" "$pci" || ok=0
    fi
    [ "$(cur_driver "$pci")" = "$orig" ] || ok=0
  fi
  sysfs_write "$PCI_DEVS/$pci/driver_override" "$ovr" || ok=0
  if [ "$ok" = 1 ]; then
    rm -f -- "$rec_dir/$pci"
    say "$pci back on ${orig:-no driver}"
  else
    say "ERROR: could not put $pci back on ${orig:-no driver} (now: $(cur_driver "$pci")); record kept in $rec_dir/$pci"
    return 1
  fi
}

# --- checks (nothing changed yet) ------------------------------------------------------------
iommu_ok() {
  [ -n "$(ls -A -- "$SYS/kernel/iommu_groups" 2>/dev/null)" ] && return 0
  [[ $(read_or "$SYS/module/vfio/parameters/enable_unsafe_noiommu_mode" N) == [Yy1]* ]]
}
need_driver() { # driver: its sysfs dir, loading the module when it is missing
  [ -d "$PCI_DRVS/$1" ] && return 0
  say "loading kernel module $1"
  modprobe -- "$1" >&2 || true
  [ -d "$PCI_DRVS/$1" ] || die "driver $1 is not available on this host (modprobe $1 failed)" \
    "install its kernel module (vfio-pci is in every distribution kernel; igb_uio is built from dpdk-kmods), or set vhost-perf-lab:hosts[].nics[].driver to one that is"
}
in_use() { # pci: refuse a device whose interface is up or has addresses
  local pci=$1 ifn flags addrs
  ifn=$(netif "$pci")
  [ -n "$ifn" ] || return 0
  flags=$(read_or "$PCI_DEVS/$pci/net/$ifn/flags" 0x0)
  addrs=$(ip -o addr show dev "$ifn" 2>/dev/null | awk '{print $4}' | tr '\n' ' ' || true)
  local why=()
  (((flags & 1) == 0)) || why+=("up")
  [ -z "${addrs// /}" ] || why+=("addresses ${addrs% }")
  if ((${#why[@]} > 0)); then
    local IFS=,
    die "$pci is $ifn, which is in use (${why[*]}): the lab will not take it from the kernel (it may carry this SSH session)" \
      "check vhost-perf-lab:hosts[].nics[].pci names a traffic port; if $ifn is really free: ip addr flush dev $ifn && ip link set dev $ifn down"
  fi
}
check_all() {
  local i pci drv cur
  for i in "${!DEVS[@]}"; do
    pci=${DEVS[$i]}
    drv=${TARGETS[$i]}
    [ -e "$PCI_DEVS/$pci" ] || die "no PCI device $pci on this host ($PCI_DEVS/$pci)" "check vhost-perf-lab:hosts[].nics[].pci against lspci -D"
    [ -e "$PCI_DEVS/$pci/driver_override" ] || die "$pci has no driver_override (kernel older than 3.16?)"
    cur=$(cur_driver "$pci")
    [ "$cur" = "$drv" ] && continue
    need_driver "$drv"
    if [ "$drv" = vfio-pci ] && ! iommu_ok; then
      die "vfio-pci needs an IOMMU, and this host has none enabled ($SYS/kernel/iommu_groups is empty, vfio no-IOMMU mode is off)" \
        "add intel_iommu=on iommu=pt (AMD: amd_iommu=on) to the kernel command line (vhost-perf-lab:tuning.kernelArgs) and reboot; or, without an IOMMU, echo 1 > $SYS/module/vfio/parameters/enable_unsafe_noiommu_mode; or use a uio driver (vhost-perf-lab:hosts[].nics[].driver: uio_pci_generic)"
    fi
    in_use "$pci"
  done
}

# --- verbs ---------------------------------------------------------------------------------
CHANGED=()
UNDO=0
undo_up() {
  trap '' TERM INT
  UNDO=0
  local i
  for ((i = ${#CHANGED[@]} - 1; i >= 0; i--)); do restore "${CHANGED[$i]}" || true; done
  rmdir -- "$rec_dir" 2>/dev/null || true
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$UNDO" = 1 ]; then
    say "up failed (exit $rc): putting back what it changed"
    undo_up
  fi
}
on_signal() {
  trap - EXIT
  if [ "$UNDO" = 1 ]; then
    say "interrupted by SIG$1: putting back what this run changed"
    undo_up
  fi
  say "ERROR: interrupted by SIG$1"
  exit "$2"
}

up() {
  check_all
  trap on_exit EXIT
  trap 'on_signal TERM 143' TERM
  trap 'on_signal INT 130' INT
  UNDO=1
  local i pci drv cur ifn
  for i in "${!DEVS[@]}"; do
    pci=${DEVS[$i]}
    drv=${TARGETS[$i]}
    cur=$(cur_driver "$pci")
    if [ -f "$rec_dir/$pci" ]; then
      [ "$(rec_get "$pci" target)" = "$drv" ] || die "$pci was bound to $(rec_get "$pci" target) by this stack, now asked for $drv" "destroy the stack first (nic-bind.sh down puts it back)"
      if [ "$cur" = "$drv" ]; then
        say "$pci already on $drv"
        continue
      fi
      say "$pci is on ${cur:-no driver}, not $drv (drifted): binding it again"
    else
      ifn=$(netif "$pci")
      write_rec "$pci" "$cur" "$(read_or "$PCI_DEVS/$pci/driver_override" "(null)")" \
        "$( [ -z "$ifn" ] || read_or "$PCI_DEVS/$pci/net/$ifn/address" "")" "$ifn" "$drv"
      if [ "$cur" = "$drv" ]; then
        say "$pci was already on $drv before this stack: recorded, left as it is"
        continue
      fi
    fi
    CHANGED+=("$pci")
    say "$pci: ${cur:-no driver} -> $drv"
    bind_to "$pci" "$drv" || die "binding $pci to $drv failed (now on: $(cur_driver "$pci"))" "see dmesg; check the device's IOMMU group holds only devices bound to vfio-pci or to no driver"
  done
  UNDO=0
  trap - EXIT TERM INT
}

down() {
  local pci rc=0
  for pci in "${DEVS[@]}"; do restore "$pci" || rc=1; done
  rmdir -- "$rec_dir" 2>/dev/null || true
  [ "$rc" = 0 ] || die "some devices could not be put back (records kept; run the teardown again)"
}

report() { # action
  local i pci sep="" out="" orig mac ifn changed numa
  for i in "${!DEVS[@]}"; do
    pci=${DEVS[$i]}
    orig=$(rec_get "$pci" original)
    mac=$(rec_get "$pci" mac)
    ifn=$(rec_get "$pci" ifname)
    changed=false
    [ ! -f "$rec_dir/$pci" ] || [ "$orig" = "${TARGETS[$i]}" ] || changed=true
    numa=$(read_or "$PCI_DEVS/$pci/numa_node" -1)
    [[ $numa =~ ^-?[0-9]+$ ]] || numa=-1
    out+="$sep{\"pci\":$(json_str "$pci"),\"driver\":$(json_str "$(cur_driver "$pci")"),\"target\":$(json_str "${TARGETS[$i]}"),\"original\":$(json_str "$orig"),\"mac\":$(json_str "$mac"),\"ifname\":$(json_str "$ifn"),\"numaNode\":$numa,\"changed\":$changed}"
    sep=","
  done
  printf '{"action":%s,"devices":[%s]}\n' "$(json_str "$1")" "$out"
}

status() {
  local i rc=0
  report status
  for i in "${!DEVS[@]}"; do
    [ -f "$rec_dir/${DEVS[$i]}" ] && [ "$(cur_driver "${DEVS[$i]}")" = "${TARGETS[$i]}" ] || rc=3
  done
  return "$rc"
}

case "${1:-}" in
  up)
    up
    report up
    ;;
  down)
    down
    report down
    ;;
  status) status || exit $? ;;
  *) die "usage: nic-bind.sh up|down|status" ;;
esac
