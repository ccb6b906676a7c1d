#!/usr/bin/env bash
# Switch a running vhost-user VM to another vring size, for the benchmark runner (matrix cells
# with several vring sizes, issue 14). A virtio queue size is fixed when QEMU creates the device,
# so a switch is a restart: the VM is stopped and started again with the argv of that size (both
# built by lib/qemu from the same VM spec), its vCPUs pinned again, and the VM step's record
# (pid + start time, scripts/lib/step.sh) moved to the new QEMU so the step still owns it.
#
# Runs from the control kit vm.sh leaves in <VM_RUN_DIR>/ctl when it is given VM_RING_ARGVS:
#   bash <VM_RUN_DIR>/ctl/vm-ring.sh set <size>   restart at <size> unless it already runs so;
#                                                 stdout: vm.sh start's JSON line (with "ring")
#   bash <VM_RUN_DIR>/ctl/vm-ring.sh show         what the VM's virtio devices negotiated, as
#                                                 it runs now (vm.sh vrings: QMP only, and "ring")
# The deployed size is VM_RING_SIZE in the kit; `vm.sh status` (the step's drift probe) reports
# a VM left at another size as gone, so the next `pulumi up` starts it again at the deployed size.
# Exit codes: 0 done; 1 failed (a failed start is undone by vm.sh: the VM is then stopped); 2 usage.
set -euo pipefail

kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf '[vm-ring] ERROR: %s\n' "$*" >&2; exit 1; }
say() { printf '[vm-ring] %s\n' "$*" >&2; }

cmd=${1:-}
case "$cmd" in
set) [[ "${2:-}" =~ ^[0-9]{2,5}$ ]] || { echo "usage: vm-ring.sh set <size> | show" >&2; exit 2; } ;;
show) ;;
*) echo "usage: vm-ring.sh set <size> | show" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || die "run as root"
[ -f "$kit/env" ] || die "no inputs in $kit/env (the kit is written by vm.sh start with VM_RING_ARGVS)"
# shellcheck source=/dev/null # written by vm.sh save_kit with `declare -p`
source "$kit/env"
# `declare -p` in a function-free subshell writes plain declarations; they are globals here
: "${VM_NAME:?} ${VM_RUN_DIR:?} ${VM_RING_SIZE:?} ${VM_RING_ARGVS:?}"
export VM_NAME VM_RUN_DIR VM_PIDFILE VM_QMP_SOCKET VM_QGA_SOCKET VM_CONSOLE_LOG VM_BASE_IMAGE \
  VM_BASE_FORMAT VM_OVERLAY VM_BOOT_TIMEOUT VM_GUEST_NICS VM_GUEST_TESTPMD VM_GUEST_HUGEPAGES \
  VM_KEEP_LOGS VM_RING_ARGVS QMP_PY QGA_PY VM_GUEST_MAX_PKT_LEN VM_GUEST_MBUF_SIZE VM_GUEST_MBUFS

# the argv of one size from "size:base64 size:base64 ..."
argv_for() {
  local entry
  for entry in $VM_RING_ARGVS; do
    [[ "$entry" =~ ^([0-9]+):([A-Za-z0-9+/=]+)$ ]] || die "bad VM_RING_ARGVS entry '${entry:0:40}...'"
    if [ "${BASH_REMATCH[1]}" = "$1" ]; then
      printf '%s\n' "${BASH_REMATCH[2]}"
      return 0
    fi
  done
  return 1
}
sizes() {
  local entry list=()
  for entry in $VM_RING_ARGVS; do list+=("${entry%%:*}"); done
  printf '%s\n' "${list[*]}"
}

running_ring() { if [ -s "$VM_RUN_DIR/ring" ]; then tr -dc '0-9' <"$VM_RUN_DIR/ring"; fi; }

# the VM step's record follows the new QEMU (same format as scripts/lib/step.sh record_step)
move_step_record() {
  local pid=$1 rec st boot
  [ -n "${LAB_STATE_DIR:-}" ] && [ -n "${LAB_STEP_NAME:-}" ] || return 0
  [[ "$LAB_STEP_NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] || die "bad LAB_STEP_NAME '$LAB_STEP_NAME'"
  rec="$LAB_STATE_DIR/steps/$LAB_STEP_NAME"
  [ -f "$rec" ] || return 0
  boot=$(sed -n 's/^boot=//p' "$rec")
  local stat
  local -a f
  stat=$(cat "/proc/$pid/stat") || die "pid $pid is gone"
  stat=${stat##*) } # from field 3 on: the start time (field 22) is the 20th
  read -r -a f <<<"$stat"
  st=${f[19]:-}
  [[ "$st" =~ ^[0-9]+$ ]] || die "cannot read the start time of pid $pid"
  printf 'boot=%s\npid=%s\nstart=%s\n' "$boot" "$pid" "$st" >"$rec.tmp"
  mv -- "$rec.tmp" "$rec"
}

if [ "$cmd" = show ]; then
  exec bash "$kit/vm.sh" vrings
fi

size=$2
argv=$(argv_for "$size") || die "vring size $size is not one of this VM's ($(sizes)): the kit was written for the matrix of its deployment"
now=$(running_ring || true)
if [ "$now" = "$size" ] && [ -s "$VM_PIDFILE" ] && kill -0 "$(tr -dc '0-9' <"$VM_PIDFILE")" 2>/dev/null; then
  say "$VM_NAME already runs with vring size $size"
  VM_ARGV_B64=$argv VM_RING_SIZE=$size bash "$kit/vm.sh" start
  exit 0
fi
say "$VM_NAME: vring size ${now:-?} -> $size: restarting the VM"
# every size's argv names the same sockets and files: any of them tells stop what to remove
# (no guest agent: the guest's testpmd goes with the VM, a polite stop would only add seconds)
VM_ARGV_B64=$argv VM_KEEP_CTL=1 VM_KEEP_LOGS=0 QGA_PY="" bash "$kit/vm.sh" stop >/dev/null
out=$(VM_ARGV_B64=$argv VM_RING_SIZE=$size bash "$kit/vm.sh" start) || die "$VM_NAME did not start with vring size $size (vm.sh undid the start: the VM is stopped; the next pulumi up starts it at $VM_RING_SIZE)"
pid=$(tr -dc '0-9' <"$VM_PIDFILE")
if [ -n "${VM_PIN_CPUS:-}" ]; then
  PIN_PIDFILE=$VM_PIDFILE PIN_PATTERN='^CPU [0-9]+/(KVM|TCG)$' PIN_CPUS=$VM_PIN_CPUS \
    PIN_OTHER_CPUS=${VM_PIN_OTHER_CPUS:-} bash "$kit/pin-threads.sh" >/dev/null
fi
move_step_record "$pid"
printf '%s\n' "$out" | tail -n 1
