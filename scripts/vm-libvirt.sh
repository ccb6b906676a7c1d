#!/usr/bin/env bash
# One vhost-user VM on a DUT as a libvirt domain (vms.backend: libvirt). The domain XML comes
# ready-made from lib/libvirt (buildDomainXml, from the same VmSpec as the QEMU argv); the guest
# side (agent wait, NIC names, guest testpmd, vring check) is scripts/lib/vm-guest.sh, the same
# code as scripts/vm.sh's.
#
# Usage (as root):
#   vm-libvirt.sh up     libvirtd (and virtlogd) started if not running, and recorded as started
#                        by us; the domain defined from the XML and started (unless it already
#                        runs), on a fresh overlay of the base image; wait for the guest agent,
#                        check the guest's NIC names, start testpmd in the guest, check the vring
#                        sizes; one JSON line. A failure (or SIGTERM/SIGINT) after the host was
#                        changed undoes this start: domain destroyed + undefined, overlay and
#                        sockets removed, libvirtd stopped if this run started it.
#   vm-libvirt.sh down   domain destroyed (if running) and undefined (if defined), files removed;
#                        libvirtd/virtlogd stopped if a run of this stack started them and no
#                        domain is left defined. Idempotent; one JSON line.
#   vm-libvirt.sh status exit 0 when the domain runs, 3 when not; one JSON line.
#
# Environment (from components/vm/LibvirtVm.ts):
#   VM_NAME VM_DOMAIN VM_XML_B64 VM_RUN_DIR VM_OVERLAY VM_BASE_IMAGE [VM_BASE_FORMAT qcow2]
#   VM_QGA_SOCKET VM_QMP_SOCKET VM_CONSOLE_LOG VM_VCPUS VM_GUEST_NICS VM_GUEST_TESTPMD
#   VM_VHOST_SOCKETS (space-separated: QEMU creates them as the server; removed at down)
#   VM_GUEST_HUGEPAGES [VM_BOOT_TIMEOUT 300] [VM_NIC_TIMEOUT 120] [VM_VRING_TIMEOUT 15]
#   QGA_PY QMP_PY; LAB_STATE_DIR (step.sh): where "libvirtd started by us" is recorded.
set -euo pipefail

t0=$SECONDS
CMD="${1:-}"
NAME_FOR_LOG="${VM_NAME:-?}"
say() { printf '[vm-libvirt %s %ds] %s\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$*" >&2; }
UNDO=0
die() {
  printf '[vm-libvirt %s %ds] ERROR: %s\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$*" >&2
  if [ "$UNDO" = 1 ] && [ "$BASH_SUBSHELL" = 0 ]; then
    undo_start
    say "start undone"
  fi
  exit 1
}
on_exit() {
  local rc=$?
  [ "$BASH_SUBSHELL" != 0 ] || drop_scratch
  if [ "$rc" != 0 ] && [ "$UNDO" = 1 ] && [ "$BASH_SUBSHELL" = 0 ]; then
    say "start failed (exit $rc): undoing it"
    undo_start
  fi
}
on_signal() {
  trap - EXIT
  stop_bg
  drop_scratch
  if [ "$UNDO" = 1 ]; then
    say "interrupted by SIG$1: undoing the start"
    undo_start
  fi
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

BG=""
run_bg() {
  local rc=0
  "$@" &
  BG=$!
  wait "$BG" || rc=$?
  BG=""
  return "$rc"
}
stop_bg() { if [ -n "$BG" ]; then kill -TERM "$BG" 2>/dev/null || true; fi; }
SCRATCH=""
bg_out() {
  local _var=$1 _rc=0
  shift
  [ -n "$SCRATCH" ] || SCRATCH=$(mktemp -d "${LAB_BUNDLE_DIR:-/tmp}/vpl-vm.XXXXXX")
  run_bg "$@" >"$SCRATCH/out" || _rc=$?
  printf -v "$_var" '%s' "$(cat -- "$SCRATCH/out")"
  return "$_rc"
}
bg_out_all() {
  local _var=$1 _rc=0
  shift
  [ -n "$SCRATCH" ] || SCRATCH=$(mktemp -d "${LAB_BUNDLE_DIR:-/tmp}/vpl-vm.XXXXXX")
  run_bg "$@" >"$SCRATCH/out" 2>&1 || _rc=$?
  printf -v "$_var" '%s' "$(cat -- "$SCRATCH/out")"
  return "$_rc"
}
drop_scratch() { if [ -n "$SCRATCH" ]; then rm -rf -- "$SCRATCH"; fi; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
contains() {
  local n="$1" x
  shift
  for x in "$@"; do [ "$x" = "$n" ] && return 0; done
  return 1
}

# shellcheck source=scripts/lib/vm-guest.sh
. "${VM_GUEST_LIB:-$(dirname "${BASH_SOURCE[0]}")/lib/vm-guest.sh}"

# ---------------------------------------------------------------------------------------------
# inputs

load_inputs() {
  local v
  [[ "${VM_NAME:-}" =~ ^[A-Za-z][A-Za-z0-9_.-]{0,62}$ ]] || die "bad VM_NAME '${VM_NAME:-}'"
  [[ "${VM_DOMAIN:-}" =~ ^[A-Za-z][A-Za-z0-9_.-]{0,62}$ ]] || die "bad VM_DOMAIN '${VM_DOMAIN:-}'"
  for v in VM_RUN_DIR VM_OVERLAY VM_QGA_SOCKET VM_QMP_SOCKET VM_CONSOLE_LOG; do
    [[ "${!v:-}" == /* ]] || die "$v must be an absolute path, got '${!v:-}'"
  done
  read -r -a VHOST_SOCKETS <<<"${VM_VHOST_SOCKETS:-}"
  for v in "${VHOST_SOCKETS[@]}"; do [[ "$v" == /* ]] || die "VM_VHOST_SOCKETS: '$v' is not an absolute path"; done
  PIDFILE=/run/libvirt/qemu/$VM_DOMAIN.pid
  STATE_DIR=${LAB_STATE_DIR:-/var/lib/vhost-perf-lab/${LAB_STACK:-default}}
  STARTED_REC=$STATE_DIR/libvirtd.started
  BOOT_TIMEOUT="${VM_BOOT_TIMEOUT:-300}"
  NIC_TIMEOUT="${VM_NIC_TIMEOUT:-120}"
  GUEST_HUGEPAGES="${VM_GUEST_HUGEPAGES:-256}"
  VRING_TIMEOUT="${VM_VRING_TIMEOUT:-15}"
  ARG_VCPUS="${VM_VCPUS:-1}"
  for v in "$BOOT_TIMEOUT" "$NIC_TIMEOUT" "$GUEST_HUGEPAGES" "$VRING_TIMEOUT" "$ARG_VCPUS"; do
    is_uint "$v" || die "expected a whole number, got '$v'"
  done
  GUEST_TESTPMD="${VM_GUEST_TESTPMD:-off}"
  case "$GUEST_TESTPMD" in off | io | mac) ;; *) die "VM_GUEST_TESTPMD must be off, io or mac" ;; esac
  if [ "$GUEST_TESTPMD" = off ]; then VRING_CHECK=warn; else VRING_CHECK=strict; fi
  VM_GUEST_NICS="${VM_GUEST_NICS:-mgmt0}"
  [[ "$VM_GUEST_NICS" =~ ^[A-Za-z0-9_\ -]+$ ]] || die "bad VM_GUEST_NICS '$VM_GUEST_NICS'"
  read -r -a GUEST_NICS <<<"$VM_GUEST_NICS"
  VIRTIO_NICS=()
  for n in "${GUEST_NICS[@]}"; do [[ "$n" == virtio* ]] && VIRTIO_NICS+=("$n"); done
  QGA_PY="${QGA_PY:-}"
  QMP_PY="${QMP_PY:-}"
}

virsh_() { virsh -q -c qemu:///system "$@"; }

# ---------------------------------------------------------------------------------------------
# libvirtd: started if not running; what we started is recorded (pids) and stopped only by us

daemon_pid() { pgrep -x "$1" | head -n 1; }
ensure_libvirtd() {
  local d pid started=()
  command -v libvirtd >/dev/null || die "libvirtd not found: apt-get install libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients (scripts/setup.sh)"
  mkdir -p /var/log/libvirt "$STATE_DIR"
  for d in virtlogd libvirtd; do
    if pid=$(daemon_pid "$d") && [ -n "$pid" ]; then
      say "$d already running (pid $pid): left as found"
      continue
    fi
    # detached: no pipe of this step may stay open in the daemon
    setsid "$d" -d </dev/null >/dev/null 2>&1 || die "$d -d failed (log /var/log/libvirt/$d.log)"
    for _ in $(seq 50); do
      pid=$(daemon_pid "$d") && [ -n "$pid" ] && break
      sleep 0.1
    done
    [ -n "$pid" ] || die "$d did not start (log /var/log/libvirt/$d.log)"
    started+=("$d:$pid")
    printf '%s %s\n' "$d" "$pid" >>"$STARTED_REC"
    say "started $d (pid $pid; recorded in $STARTED_REC)"
  done
  for _ in $(seq 100); do
    virsh_ version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "libvirtd does not answer on qemu:///system (log /var/log/libvirt/libvirtd.log)"
}

# stop the daemons a run of this stack started, once no domain is defined any more
release_libvirtd() {
  local d pid left
  [ -s "$STARTED_REC" ] || return 0
  if pgrep -x libvirtd >/dev/null; then
    left=$(virsh_ list --all --name 2>/dev/null | grep -c . || true)
    if [ "${left:-0}" -gt 0 ]; then
      say "libvirtd was started by this stack but $left domain(s) remain defined: left running"
      return 0
    fi
  fi
  # libvirtd first, then virtlogd (reverse of the start)
  for d in libvirtd virtlogd; do
    while read -r name pid; do
      [ "$name" = "$d" ] || continue
      if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$d" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
        say "stopped $d (pid $pid), which this stack had started"
      fi
    done <"$STARTED_REC"
  done
  rm -f -- "$STARTED_REC"
}

# ---------------------------------------------------------------------------------------------
# the domain

dom_state() { virsh_ domstate "$VM_DOMAIN" 2>/dev/null | head -n 1 || true; }
dom_defined() { virsh_ dominfo "$VM_DOMAIN" >/dev/null 2>&1; }
qemu_pid() {
  local pid
  [ -s "$PIDFILE" ] || return 1
  pid=$(tr -dc '0-9' <"$PIDFILE")
  is_uint "$pid" && [ -d "/proc/$pid" ] || return 1
  printf '%s\n' "$pid"
}

make_overlay() {
  local base="${VM_BASE_IMAGE:-}" fmt="${VM_BASE_FORMAT:-qcow2}"
  [ -f "$base" ] || die "base image '$base' not found (deploy the guest image first)"
  case "$fmt" in qcow2 | raw) ;; *) die "VM_BASE_FORMAT must be qcow2 or raw" ;; esac
  [ "$(readlink -f "$base")" != "$(readlink -f "$VM_OVERLAY")" ] || die "VM_OVERLAY is the base image itself"
  mkdir -p -- "$(dirname -- "$VM_OVERLAY")"
  rm -f -- "$VM_OVERLAY"
  (umask 077 && qemu-img create -q -f qcow2 -b "$base" -F "$fmt" -- "$VM_OVERLAY" >/dev/null) ||
    die "qemu-img create of the overlay $VM_OVERLAY failed"
  say "overlay $VM_OVERLAY on $base"
}

remove_files() {
  local f
  if [ -f "$VM_OVERLAY" ] && ! [ "$VM_OVERLAY" -ef "${VM_BASE_IMAGE:-/nonexistent}" ]; then rm -f -- "$VM_OVERLAY"; fi
  # sockets only (QEMU leaves its server sockets behind; libvirt does not remove them either)
  for f in "$VM_QGA_SOCKET" "$VM_QMP_SOCKET" "${VHOST_SOCKETS[@]}"; do if [ -S "$f" ] || [ ! -e "$f" ]; then rm -f -- "$f"; fi; done
  rm -f -- "$VM_CONSOLE_LOG" "$VM_RUN_DIR/$VM_NAME-domain.xml" "/var/log/libvirt/qemu/$VM_DOMAIN.log"
  rmdir -- "$VM_RUN_DIR" 2>/dev/null || true
}

# destroy + undefine the domain if there; returns how it was found
remove_domain() {
  local st
  HOW=absent
  pgrep -x libvirtd >/dev/null || return 0
  st=$(dom_state)
  if [ "$st" = running ] || [ "$st" = paused ]; then
    virsh_ destroy "$VM_DOMAIN" >/dev/null || die "virsh destroy $VM_DOMAIN failed"
    HOW=destroyed
    say "domain $VM_DOMAIN destroyed"
  fi
  if dom_defined; then
    virsh_ undefine "$VM_DOMAIN" >/dev/null || die "virsh undefine $VM_DOMAIN failed"
    [ "$HOW" = absent ] && HOW=undefined
    say "domain $VM_DOMAIN undefined"
  fi
}

undo_start() {
  trap '' TERM INT
  UNDO=0
  stop_bg
  if [ -s "$VM_CONSOLE_LOG" ]; then
    say "last lines of $VM_CONSOLE_LOG:"
    tail -n 15 -- "$VM_CONSOLE_LOG" | tr -d '\r' | sed 's/^/    /' >&2 || true
  fi
  if [ -s "/var/log/libvirt/qemu/$VM_DOMAIN.log" ]; then
    say "last lines of /var/log/libvirt/qemu/$VM_DOMAIN.log:"
    tail -n 10 -- "/var/log/libvirt/qemu/$VM_DOMAIN.log" | sed 's/^/    /' >&2 || true
  fi
  # the guest's view of a failed guest testpmd (EAL's first lines; usage text hides them in the tail)
  if [ -n "$QGA_PY" ] && [ -S "$VM_QGA_SOCKET" ]; then
    timeout 15 python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 10 exec "echo cpus online: \$(cat /sys/devices/system/cpu/online); head -n 12 $G_LOG 2>/dev/null" 2>/dev/null | sed 's/^/    guest: /' >&2 || true
  fi
  remove_domain || true
  remove_files
  release_libvirtd || true
}

# The vCPU pinning of the CPU plan is in the domain (<cputune>, applied by libvirt at start). While
# the guest boots its vCPUs may run on every host CPU, as with the QEMU backend (which pins after
# boot): under TCG, two vCPUs booting on the core of a busy-polling vswitch worker took 128 s here
# and the guest testpmd failed right after. relax_pins: live affinity = all CPUs; apply_pins: the
# live affinity back to the domain's configured pins.
relax_pins() {
  local i all
  all="0-$(($(nproc --all) - 1))"
  for ((i = 0; i < ARG_VCPUS; i++)); do virsh_ vcpupin "$VM_DOMAIN" "$i" "$all" --live >/dev/null || true; done
  say "vCPUs unpinned (live) while the guest boots"
}
apply_pins() {
  local i cs applied=""
  for ((i = 0; i < ARG_VCPUS; i++)); do
    cs=$(virsh_ vcpupin "$VM_DOMAIN" --vcpu "$i" --config | awk 'NF >= 2 && $1 ~ /^[0-9]+:?$/ { print $2 }' | tail -n 1)
    [[ "$cs" =~ ^[0-9,-]+$ ]] || die "cannot read the configured pinning of vCPU $i of $VM_DOMAIN (got '$cs')"
    virsh_ vcpupin "$VM_DOMAIN" "$i" "$cs" --live >/dev/null || die "virsh vcpupin $VM_DOMAIN $i $cs --live failed"
    applied+="${applied:+, }vCPU $i -> $cs"
  done
  say "vCPUs pinned per the CPU plan: $applied"
}

wait_agent() {
  local end=$((SECONDS + BOOT_TIMEOUT))
  need_qga
  while [ "$SECONDS" -lt "$end" ]; do
    if qga -t 15 ping >/dev/null 2>&1; then return 0; fi
    [ "$(dom_state)" = running ] || die "the domain stopped while the guest was booting (/var/log/libvirt/qemu/$VM_DOMAIN.log)"
    say "waiting for the guest agent ($(tail -c 300 -- "$VM_CONSOLE_LOG" 2>/dev/null | tr -d '\r' | grep -a -v '^[[:space:]]*$' | tail -n 1 | cut -c1-80 || true))"
    sleep 2
  done
  die "the guest agent did not answer within ${BOOT_TIMEOUT}s (console log $VM_CONSOLE_LOG)"
}

wait_guest_nics() {
  local end=$((SECONDS + NIC_TIMEOUT)) n
  local -a missing bound_list
  while :; do
    guest_ifaces_json || die "guest-network-get-interfaces failed"
    guest_bound_nics
    read -r -a bound_list <<<"$BOUND_NICS"
    missing=()
    for n in "${GUEST_NICS[@]}"; do
      python3 -c 'import json,sys; sys.exit(0 if sys.argv[2] in json.loads(sys.argv[1]) else 1)' "$IFACES_JSON" "$n" ||
        contains "$n" "${bound_list[@]}" || missing+=("$n")
    done
    [ "${#missing[@]}" -gt 0 ] || break
    [ "$SECONDS" -lt "$end" ] || die "guest NICs ${missing[*]} missing (guest has $IFACES_JSON): check the image's udev naming rules"
    sleep 3
  done
  NICS=$(python3 -c 'import json,sys; print(json.dumps(sorted(set(json.loads(sys.argv[1]) + sys.argv[2].split()))))' "$IFACES_JSON" "$BOUND_NICS")
  say "guest NICs: $NICS"
}

cmd_up() {
  local already=false pid boot=null t_up xml
  ensure_libvirtd
  if [ "$(dom_state)" = running ]; then
    already=true
    say "domain $VM_DOMAIN already running"
  else
    [ -n "${VM_XML_B64:-}" ] || die "VM_XML_B64 is not set"
    UNDO=1
    remove_domain # a defined but stopped leftover of an earlier run
    remove_files
    mkdir -p -- "$VM_RUN_DIR"
    xml=$VM_RUN_DIR/$VM_NAME-domain.xml
    printf '%s' "$VM_XML_B64" | base64 -d >"$xml" || die "VM_XML_B64 is not base64"
    make_overlay
    virsh_ define "$xml" >/dev/null || die "virsh define $xml failed"
    say "domain $VM_DOMAIN defined"
    virsh_ start "$VM_DOMAIN" >/dev/null || die "virsh start $VM_DOMAIN failed (/var/log/libvirt/qemu/$VM_DOMAIN.log)"
    t_up=$SECONDS
    say "domain $VM_DOMAIN started"
    relax_pins
  fi
  pid=$(qemu_pid) || die "libvirt's pidfile $PIDFILE names no live QEMU"
  wait_agent
  [ "$already" = true ] || boot=$((SECONDS - t_up))
  say "guest agent answers (boot ${boot}s; null: it was running)"
  wait_guest_nics
  if [ "$GUEST_TESTPMD" != off ]; then start_guest_testpmd; fi
  guest_testpmd_state
  [ "$GUEST_TESTPMD" = off ] || [ "$TESTPMD_STATE" = running ] || die "guest testpmd is $TESTPMD_STATE after start"
  check_vrings
  apply_pins
  json_obj s action up s backend libvirt s vm "$VM_NAME" s domain "$VM_DOMAIN" s state running \
    j pid "$pid" s pidfile "$PIDFILE" j alreadyRunning "$already" j bootSeconds "$boot" \
    j vcpuTids "$(vcpu_tids_json "$pid")" j vcpuThreads "$(vcpu_threads_json "$pid")" \
    j guestNics "$NICS" j vringSizes "$VRINGS" s guestTestpmd "$TESTPMD_STATE" \
    s qgaSocket "$VM_QGA_SOCKET" s qmpSocket "$VM_QMP_SOCKET" s consoleLog "$VM_CONSOLE_LOG"
  UNDO=0
}

cmd_down() {
  local pid
  HOW=absent
  if pgrep -x libvirtd >/dev/null; then
    if [ "$(dom_state)" = running ] && [ -n "$QGA_PY" ] && [ -f "$QGA_PY" ] && [ -S "$VM_QGA_SOCKET" ]; then
      timeout 20 python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 15 exec "$(guest_testpmd_stop_script)" >/dev/null 2>&1 || true
    fi
    remove_domain
  elif pid=$(qemu_pid); then
    die "libvirtd is not running but QEMU pid $pid of $VM_DOMAIN is: start libvirtd and run down again"
  fi
  remove_files
  release_libvirtd
  json_obj s action down s backend libvirt s vm "$VM_NAME" s domain "$VM_DOMAIN" s state stopped s how "$HOW"
}

cmd_status() {
  local pid
  if pgrep -x libvirtd >/dev/null && [ "$(dom_state)" = running ] && pid=$(qemu_pid); then
    json_obj s action status s vm "$VM_NAME" s domain "$VM_DOMAIN" s state running j pid "$pid" \
      j vcpuTids "$(vcpu_tids_json "$pid")"
    return 0
  fi
  json_obj s action status s vm "$VM_NAME" s domain "$VM_DOMAIN" s state stopped j pid null
  exit 3
}

case "$CMD" in
up | down | status) ;;
*)
  printf 'usage: vm-libvirt.sh up|down|status (inputs in VM_* environment variables, see the header)\n' >&2
  exit 2
  ;;
esac
load_inputs
NAME_FOR_LOG="$VM_NAME"
[ "$(id -u)" = 0 ] || die "run as root"
"cmd_$CMD"
