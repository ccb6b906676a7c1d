#!/usr/bin/env bash
# One vhost-user VM on a DUT, launched the CSIT way: QEMU directly, daemonized, with a pidfile, a
# QMP socket, the console on ttyS0 (logged) and the guest agent on ttyS1 (DESIGN.md §3).
# The QEMU command line comes ready-made from lib/qemu (buildQemuArgv + encodeArgv): this script
# never builds or evals one.
#
# Usage (as root, e.g. `bash -s -- start < vm.sh` over SSH):
#   vm.sh start   launch unless already running; wait for the guest agent; check the guest's NIC
#                 names; start testpmd in the guest if asked; check the negotiated vring sizes.
#                 Leftovers of a dead earlier instance (stale pidfile, sockets, overlay, logs) are
#                 removed first. When anything fails after this run launched QEMU (agent timeout,
#                 NIC check, guest testpmd, vring check, SIGTERM/SIGINT), the start is undone:
#                 QEMU stopped (the verified process only), the overlay, sockets, pidfile and logs
#                 removed (the logs' tails go to stderr first), then exit non-zero with the reason.
#                 A VM that was already running is never stopped by a failing start.
#   vm.sh status  what runs now (no waiting); the drift probe of the VM: exit 3 also when the VM
#                 runs with another vring size than VM_RING_SIZE (a benchmark's ring switch that
#                 was not put back: the next up starts it again at the deployed size)
#   vm.sh probe   the step's drift probe, cheap: exit 3 when QEMU is gone or runs with another
#                 vring size than VM_RING_SIZE
#   vm.sh vrings  the negotiated vring sizes over QMP (no agent): the benchmark's per-cell proof
#   vm.sh stop    guest testpmd off (best effort), QMP quit (SIGTERM, then SIGKILL, for the
#                 pidfile's qemu-system-* process only), remove overlay, sockets, pidfile, logs
# All three are idempotent. stdout: ONE JSON line. Progress and errors: stderr ("[vm <name> 12s] ...").
# Exit codes: 0 done (status: the VM runs); 1 failed (start: undone as above); 2 usage;
#   3 status only: the VM's QEMU is not running (JSON line with "state":"stopped");
#   130/143 start interrupted by SIGINT/SIGTERM (undone as above).
#
# Environment (from lib/qemu vmScriptEnv; VM_* paths default to what the argv says):
#   VM_NAME            VM name (= -name)                    VM_ARGV_B64  base64 of NUL-terminated argv
#   VM_RUN_DIR         sockets, pidfile, logs               VM_PIDFILE / VM_QMP_SOCKET / VM_QGA_SOCKET
#   VM_CONSOLE_LOG     ttyS0 log                            VM_OVERLAY   qcow2 overlay (created by start, 0600)
#   VM_BASE_IMAGE      its backing file, never written      VM_BASE_FORMAT [qcow2]
#   VM_BOOT_TIMEOUT    [300] s until the agent answers      VM_CONNECT_TIMEOUT [120] s for the vswitch
#   VM_STOP_TIMEOUT    [30] s after QMP quit                VM_KEEP_LOGS [0] 1 = stop keeps the logs
#   VM_GUEST_NICS      [mgmt0 virtio0 ...] names the guest must show (within VM_NIC_TIMEOUT [120] s)
#   VM_GUEST_TESTPMD   [off] io | mac: testpmd on the guest's virtio NICs (uio_pci_generic)
#   VM_GUEST_HUGEPAGES [256] 2 MiB pages in the guest for it
#   VM_GUEST_MAX_PKT_LEN / VM_GUEST_MBUF_SIZE / VM_GUEST_MBUFS [unset: testpmd's defaults] its
#                      --max-pkt-len, --mbuf-size, --total-num-mbufs (jumbo frames: lib/lab/frames.ts)
#   VM_VRING_CHECK     [strict when VM_GUEST_TESTPMD is on, else warn] strict: start fails unless
#                      every virtio-net device runs vhost with the configured rx/tx ring sizes
#                      (within VM_VRING_TIMEOUT [15] s); warn: report them only
#   QGA_PY             guest agent client (scripts/guest-image/qga.py), run with python3
#   QMP_PY             [qmp.py beside this script] QMP client (scripts/qmp.py); stop works without it
#   VM_RING_SIZE       the vring size VM_ARGV_B64 asks for; start records it in VM_RUN_DIR/ring
#   VM_RING_ARGVS      "size:base64-argv ..." for every vring size of the matrix: start then leaves
#                      a control kit in VM_RUN_DIR/ctl (this script, vm-ring.sh, qmp.py, qga.py,
#                      pin-threads.sh, the inputs) with which the benchmark runner restarts the VM
#                      at another size (`bash VM_RUN_DIR/ctl/vm-ring.sh set <size>`); stop removes it
#   VM_RING_SH / VM_PIN_SH  scripts/vm-ring.sh and scripts/pin-threads.sh, copied into the kit
#   VM_PIN_CPUS / VM_PIN_OTHER_CPUS  the vCPU pinning the kit applies after a restart
#   VM_KEEP_CTL        [0] 1 = stop keeps the kit and the ring record (a ring switch)
#
# Ordering: QEMU is the vhost-user socket server and does not start the guest until a client is
# connected to every vhost-user socket. Start the vswitch (client mode, it reconnects) first, or
# within VM_CONNECT_TIMEOUT.
set -euo pipefail

t0=$SECONDS
CMD="${1:-}"
NAME_FOR_LOG="${VM_NAME:-?}"
say() { printf '[vm %s %ds] %s\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$*" >&2; }
# UNDO=1 from the moment start changes the host until its JSON line is out: a failure (die, an
# unexpected error, SIGTERM/SIGINT) then undoes the start (undo_start) before exiting.
UNDO=0
# the script's stderr: a trap runs inside whatever redirection the interrupted function call
# had (e.g. `qga ... ping >/dev/null 2>&1`), so the handlers write here
exec {ERR_FD}>&2
die() {
  printf '[vm %s %ds] ERROR: %s\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$*" >&2
  # in a command substitution only the main shell undoes (its EXIT trap sees the failure)
  if [ "$UNDO" = 1 ] && [ "$BASH_SUBSHELL" = 0 ]; then
    undo_start
    printf '[vm %s %ds] ERROR: %s (start undone)\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$*" >&2
  fi
  exit 1
}
on_exit() {
  local rc=$?
  exec 2>&"$ERR_FD"
  [ "$BASH_SUBSHELL" != 0 ] || drop_scratch
  if [ "$rc" != 0 ] && [ "$UNDO" = 1 ] && [ "$BASH_SUBSHELL" = 0 ]; then
    say "start stopped unexpectedly (exit $rc): undoing it"
    undo_start
    printf '[vm %s %ds] ERROR: start failed (exit %s), start undone\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$rc" >&2
  fi
}
on_signal() { # signal-name exit-code
  exec 2>&"$ERR_FD"
  trap - EXIT
  stop_bg
  drop_scratch
  if [ "$UNDO" = 1 ]; then
    say "interrupted by SIG$1: undoing the start"
    undo_start
    printf '[vm %s %ds] ERROR: interrupted by SIG%s (start undone)\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$1" >&2
  else
    printf '[vm %s %ds] ERROR: interrupted by SIG%s\n' "$NAME_FOR_LOG" "$((SECONDS - t0))" "$1" >&2
  fi
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# Long waits (agent, guest commands, QMP) run as a background job that this shell `wait`s for:
# a trapped signal interrupts `wait` at once, while a foreground command (or a $(...) whose
# child missed the signal in its fork window) would hold the trap until it ends, seconds after
# the provider's SIGKILL. run_bg CMD...: run it so; stdout/stderr as the caller redirects.
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
# bg_out VAR CMD...: VAR=$(CMD...) through run_bg, the output through a private scratch file
# (in the step's private dir LAB_BUNDLE_DIR when there is one: step.sh removes it even after a
# SIGKILL of this script);
# bg_out_all: VAR=$(CMD... 2>&1). CMD must be a program (not a function: it would run in a
# subshell that does not pass the signal on).
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
# microseconds since the epoch
now_us() { local t="$EPOCHREALTIME"; printf '%s\n' "${t/./}"; }
# seconds with one decimal between two now_us values
secs_between() { local d=$((($2 - $1) / 100000)); printf '%d.%d\n' "$((d / 10))" "$((d % 10))"; }

# ---------------------------------------------------------------------------------------------
# the argv and what it says about the VM

ARGV=()
decode_argv() {
  [ -n "${VM_ARGV_B64:-}" ] || return 1
  local tmp
  tmp=$(mktemp)
  if ! printf '%s' "$VM_ARGV_B64" | base64 -d >"$tmp" 2>/dev/null; then
    rm -f -- "$tmp"
    die "VM_ARGV_B64 is not base64"
  fi
  mapfile -d '' -t ARGV <"$tmp"
  rm -f -- "$tmp"
  [ "${#ARGV[@]}" -gt 1 ] || die "VM_ARGV_B64 holds no command line"
}

# values following each occurrence of option $1
argv_values() {
  local i
  for ((i = 1; i + 1 < ${#ARGV[@]}; i++)); do
    if [ "${ARGV[i]}" = "$1" ]; then printf '%s\n' "${ARGV[i + 1]}"; fi
  done
}
argv_has() {
  local a
  for a in "${ARGV[@]:1}"; do [ "$a" = "$1" ] && return 0; done
  return 1
}
# value of key $2 in the QEMU option string $1 ("a=1,path=/x,,y,b=2": ",," is a literal comma)
opt_get() {
  local s="${1//,,/$'\x01'}" part
  local -a parts
  IFS=',' read -r -a parts <<<"$s"
  for part in "${parts[@]}"; do
    if [ "${part%%=*}" = "$2" ] && [ "$part" != "${part#*=}" ]; then
      part="${part#*=}"
      printf '%s\n' "${part//$'\x01'/,}"
      return 0
    fi
  done
  return 1
}
opt_first() { local s="${1//,,/$'\x01'}"; s="${s%%,*}"; printf '%s\n' "${s//$'\x01'/,}"; }

ARG_NAME="" ARG_PIDFILE="" ARG_DISK="" ARG_MEM_SIZE="" ARG_MEM_PATH="" ARG_VCPUS="" ARG_CONSOLE_LOG=""
CHARDEV_SOCKETS=() VHOST_SOCKETS=()
parse_argv() {
  local v id
  local -A chardev_path=()
  ARG_NAME=$(argv_values -name | head -n 1)
  ARG_NAME=$(opt_first "$ARG_NAME")
  ARG_PIDFILE=$(argv_values -pidfile | head -n 1)
  ARG_VCPUS=$(opt_first "$(argv_values -smp | head -n 1)")
  while IFS= read -r v; do
    if [ -z "$ARG_DISK" ]; then ARG_DISK=$(opt_get "$v" file || true); fi
  done < <(argv_values -drive)
  while IFS= read -r v; do
    if [ "$(opt_first "$v")" = memory-backend-file ]; then
      ARG_MEM_SIZE=$(opt_get "$v" size || true)
      ARG_MEM_PATH=$(opt_get "$v" mem-path || true)
    fi
  done < <(argv_values -object)
  while IFS= read -r v; do
    [ "$(opt_first "$v")" = socket ] || continue
    id=$(opt_get "$v" id || true)
    if p=$(opt_get "$v" path); then
      CHARDEV_SOCKETS+=("$p")
      chardev_path[$id]=$p
    fi
    if l=$(opt_get "$v" logfile); then ARG_CONSOLE_LOG=$l; fi
  done < <(argv_values -chardev)
  while IFS= read -r v; do
    [ "$(opt_first "$v")" = vhost-user ] || continue
    id=$(opt_get "$v" chardev || true)
    [ -n "${chardev_path[$id]:-}" ] && VHOST_SOCKETS+=("${chardev_path[$id]}")
  done < <(argv_values -netdev)
  return 0
}

# the VM_* inputs: take the argv's value when unset, insist on agreement when set
agree() { # var-name argv-value what
  local cur="${!1:-}"
  if [ -z "$cur" ]; then
    printf -v "$1" '%s' "$2"
  elif [ -n "$2" ] && [ "$cur" != "$2" ]; then
    die "$1=$cur but the QEMU argv says $3 is $2 (both come from lib/qemu: regenerate them together)"
  fi
}
contains() { # needle haystack...
  local n="$1" x
  shift
  for x in "$@"; do [ "$x" = "$n" ] && return 0; done
  return 1
}

load_inputs() {
  [ -n "${VM_NAME:-}" ] || die "VM_NAME is not set"
  [[ "$VM_NAME" =~ ^[A-Za-z][A-Za-z0-9_.-]{0,62}$ ]] || die "bad VM_NAME '$VM_NAME'"
  HAVE_ARGV=0
  if decode_argv; then
    HAVE_ARGV=1
    parse_argv
    local bin="${ARGV[0]##*/}"
    [[ "$bin" == qemu-system-* ]] || die "argv[0] is ${ARGV[0]}, not a qemu-system-* binary"
    [ "$ARG_NAME" = "$VM_NAME" ] || die "VM_NAME=$VM_NAME but the argv's -name is '$ARG_NAME'"
    argv_has -daemonize || die "the argv lacks -daemonize"
    [ -n "$ARG_PIDFILE" ] || die "the argv lacks -pidfile"
    agree VM_PIDFILE "$ARG_PIDFILE" "-pidfile"
    agree VM_OVERLAY "$ARG_DISK" "the disk"
    agree VM_CONSOLE_LOG "$ARG_CONSOLE_LOG" "the console log"
    for v in VM_QMP_SOCKET VM_QGA_SOCKET; do
      if [ -n "${!v:-}" ] && ! contains "${!v}" "${CHARDEV_SOCKETS[@]}"; then
        die "$v=${!v} is not one of the argv's chardev sockets"
      fi
    done
    if [ -z "${VM_RUN_DIR:-}" ]; then VM_RUN_DIR=$(dirname "$ARG_PIDFILE"); fi
  fi
  [ -n "${VM_RUN_DIR:-}" ] || die "VM_RUN_DIR is not set (and no VM_ARGV_B64 to take it from)"
  VM_PIDFILE="${VM_PIDFILE:-$VM_RUN_DIR/$VM_NAME.pid}"
  VM_QMP_SOCKET="${VM_QMP_SOCKET:-$VM_RUN_DIR/$VM_NAME-qmp.sock}"
  VM_QGA_SOCKET="${VM_QGA_SOCKET:-$VM_RUN_DIR/$VM_NAME-qga.sock}"
  VM_CONSOLE_LOG="${VM_CONSOLE_LOG:-$VM_RUN_DIR/$VM_NAME-console.log}"
  LAUNCH_LOG="$VM_RUN_DIR/$VM_NAME-qemu.log"
  for v in VM_RUN_DIR VM_PIDFILE VM_QMP_SOCKET VM_QGA_SOCKET VM_CONSOLE_LOG; do
    [[ "${!v}" == /* ]] || die "$v must be an absolute path, got '${!v}'"
  done
  BOOT_TIMEOUT="${VM_BOOT_TIMEOUT:-300}"
  CONNECT_TIMEOUT="${VM_CONNECT_TIMEOUT:-120}"
  STOP_TIMEOUT="${VM_STOP_TIMEOUT:-30}"
  GUEST_HUGEPAGES="${VM_GUEST_HUGEPAGES:-256}"
  NIC_TIMEOUT="${VM_NIC_TIMEOUT:-120}"
  for v in "$BOOT_TIMEOUT" "$CONNECT_TIMEOUT" "$STOP_TIMEOUT" "$GUEST_HUGEPAGES" "$NIC_TIMEOUT"; do
    is_uint "$v" || die "expected a whole number, got '$v'"
  done
  GUEST_TESTPMD="${VM_GUEST_TESTPMD:-off}"
  case "$GUEST_TESTPMD" in off | io | mac) ;; *) die "VM_GUEST_TESTPMD must be off, io or mac, got '$GUEST_TESTPMD'" ;; esac
  GUEST_JUMBO_OPTS=""
  local opt var
  for opt in max-pkt-len:VM_GUEST_MAX_PKT_LEN mbuf-size:VM_GUEST_MBUF_SIZE total-num-mbufs:VM_GUEST_MBUFS; do
    var=${opt#*:}
    [ -n "${!var:-}" ] || continue
    is_uint "${!var}" || die "$var must be a whole number, got '${!var}'"
    GUEST_JUMBO_OPTS+=" --${opt%%:*}=${!var}"
  done
  VRING_CHECK="${VM_VRING_CHECK:-}"
  if [ -z "$VRING_CHECK" ]; then
    if [ "$GUEST_TESTPMD" = off ]; then VRING_CHECK=warn; else VRING_CHECK=strict; fi
  fi
  case "$VRING_CHECK" in strict | warn) ;; *) die "VM_VRING_CHECK must be strict or warn, got '$VRING_CHECK'" ;; esac
  VRING_TIMEOUT="${VM_VRING_TIMEOUT:-15}"
  if [ -n "${VM_RING_SIZE:-}" ] && ! is_uint "$VM_RING_SIZE"; then die "VM_RING_SIZE must be a whole number, got '$VM_RING_SIZE'"; fi
  is_uint "$VRING_TIMEOUT" || die "VM_VRING_TIMEOUT must be a whole number, got '$VRING_TIMEOUT'"
  if [ -z "${VM_GUEST_NICS:-}" ]; then
    VM_GUEST_NICS=mgmt0
    for ((i = 0; i < ${#VHOST_SOCKETS[@]}; i++)); do VM_GUEST_NICS+=" virtio$i"; done
  fi
  [[ "$VM_GUEST_NICS" =~ ^[A-Za-z0-9_\ -]+$ ]] || die "bad VM_GUEST_NICS '$VM_GUEST_NICS'"
  read -r -a GUEST_NICS <<<"$VM_GUEST_NICS"
  VIRTIO_NICS=()
  for n in "${GUEST_NICS[@]}"; do [[ "$n" == virtio* ]] && VIRTIO_NICS+=("$n"); done
  if [ -z "${QMP_PY:-}" ] && [ -f "${BASH_SOURCE[0]:-}" ]; then
    QMP_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/qmp.py"
  fi
  QMP_PY="${QMP_PY:-}"
  QGA_PY="${QGA_PY:-}"
}

# ---------------------------------------------------------------------------------------------
# the process

# pid of this VM's QEMU: pidfile + live + comm qemu-system-* + cmdline -name <VM_NAME>
vm_pid() {
  local pid comm
  [ -s "$VM_PIDFILE" ] || return 1
  pid=$(tr -dc '0-9' <"$VM_PIDFILE")
  if ! is_uint "$pid" || [ "$pid" -le 1 ]; then return 1; fi
  is_our_qemu "$pid" || return 1
  printf '%s\n' "$pid"
}
is_our_qemu() {
  local pid="$1" comm i
  local -a cmd
  # builtins only: this runs for candidate processes during an undo that must be quick
  read -r comm 2>/dev/null <"/proc/$pid/comm" || return 1
  [[ "$comm" == qemu-system* ]] || return 1
  mapfile -d '' -t cmd 2>/dev/null <"/proc/$pid/cmdline" || return 1
  for ((i = 0; i + 1 < ${#cmd[@]}; i++)); do
    if [ "${cmd[i]}" = -name ] && [ "$(opt_first "${cmd[i + 1]}")" = "$VM_NAME" ]; then return 0; fi
  done
  return 1
}
# any qemu-system-* process started with -name <VM_NAME> and our -pidfile (pidfile lost)
orphan_pid() {
  local f pid
  while IFS= read -r f; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    if is_our_qemu "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done < <(grep -lszxF -- "$VM_PIDFILE" /proc/[0-9]*/cmdline)
  return 1
}
alive() { [ -d "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
wait_gone() { # pid seconds
  local end=$((SECONDS + $2))
  while alive "$1"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# The guest-side parts (vCPU threads, agent and QMP helpers, NIC names, guest testpmd, vring
# check) live in scripts/lib/vm-guest.sh, shared with scripts/vm-libvirt.sh.
# shellcheck source=scripts/lib/vm-guest.sh
. "${VM_GUEST_LIB:-$(dirname "${BASH_SOURCE[0]}")/lib/vm-guest.sh}"

# ---------------------------------------------------------------------------------------------
# start

check_hugepages() {
  local size="$ARG_MEM_SIZE" path="$ARG_MEM_PATH" mib fstype page_b page_kb need free resv avail total dir
  [ -n "$path" ] || die "the argv has no memory-backend-file (vhost-user needs guest RAM shared with the vswitch)"
  case "$size" in
  *M) mib=${size%M} ;;
  *G) mib=$((${size%G} * 1024)) ;;
  *) die "memory backend size '$size' is not <n>M or <n>G" ;;
  esac
  is_uint "$mib" || die "memory backend size '$size' is not a number"
  [ -d "$path" ] || die "mem-path $path does not exist (mount -t hugetlbfs nodev $path)"
  fstype=$(stat -f -c %T "$path")
  if [ "$fstype" != hugetlbfs ]; then
    say "WARNING: mem-path $path is $fstype, not hugetlbfs: guest RAM is not on hugepages"
    return 0
  fi
  page_b=$(stat -f -c %S "$path")
  page_kb=$((page_b / 1024))
  dir=/sys/kernel/mm/hugepages/hugepages-${page_kb}kB
  [ -d "$dir" ] || die "no hugepage pool for $page_kb kB pages ($dir)"
  need=$(((mib * 1024 + page_kb - 1) / page_kb))
  free=$(cat "$dir/free_hugepages")
  resv=$(cat "$dir/resv_hugepages")
  total=$(cat "$dir/nr_hugepages")
  avail=$((free - resv))
  if [ "$avail" -lt "$need" ]; then
    die "the VM needs $need free ${page_kb} kB hugepages for ${mib} MiB at $path, only $avail of $total are free: raise the pool, e.g. echo $((total + need - avail)) > $dir/nr_hugepages"
  fi
  say "hugepages: $need x ${page_kb} kB needed, $avail of $total free at $path"
}

make_overlay() {
  local base="${VM_BASE_IMAGE:-}" fmt="${VM_BASE_FORMAT:-qcow2}"
  [ -n "$base" ] || die "VM_BASE_IMAGE is not set"
  [ -n "${VM_OVERLAY:-}" ] || die "VM_OVERLAY is not set"
  [ -f "$base" ] || die "base image $base not found (deploy the guest image first)"
  [ "$(readlink -f "$base")" != "$(readlink -f "$VM_OVERLAY")" ] || die "VM_OVERLAY is the base image itself"
  case "$fmt" in qcow2 | raw) ;; *) die "VM_BASE_FORMAT must be qcow2 or raw" ;; esac
  mkdir -p -- "$(dirname -- "$VM_OVERLAY")"
  if [ -e "$VM_OVERLAY" ]; then
    [ -n "$(backing_of "$VM_OVERLAY")" ] || die "$VM_OVERLAY exists and is not an overlay (no backing file): not overwriting it"
    say "removing the stale overlay $VM_OVERLAY of an earlier run"
    rm -f -- "$VM_OVERLAY" # boot from a fresh one
  fi
  # 0600 from the first byte: the guest's disk (its password hash) is nobody else's to read
  (umask 077 && qemu-img create -q -f qcow2 -b "$base" -F "$fmt" -- "$VM_OVERLAY" >/dev/null) ||
    die "qemu-img create of the overlay $VM_OVERLAY failed"
  chmod 0600 -- "$VM_OVERLAY"
  say "overlay $VM_OVERLAY on $base (mode 0600; the base stays read-only)"
}

# launch; returns when QEMU has daemonized (it waits for the vswitch on the vhost-user sockets)
LPID=""
launch() {
  local next end pid s
  mkdir -p -- "$VM_RUN_DIR"
  for s in "${CHARDEV_SOCKETS[@]}" "$VM_PIDFILE" "$VM_CONSOLE_LOG"; do mkdir -p -- "$(dirname -- "$s")"; done
  [ -x "${ARGV[0]}" ] || die "QEMU binary ${ARGV[0]} not found or not executable"
  say "launching ${ARGV[0]} (${#ARGV[@]} args; log $LAUNCH_LOG)"
  # ERR_FD closed: a daemon holding the step's stderr pipe would keep the step from ending
  "${ARGV[@]}" </dev/null >"$LAUNCH_LOG" 2>&1 {ERR_FD}>&- &
  LPID=$!
  end=$((SECONDS + CONNECT_TIMEOUT))
  next=$((SECONDS + 5))
  while alive "$LPID"; do
    if [ "$SECONDS" -ge "$end" ]; then
      die "no vswitch connected to the vhost-user socket(s) ${VHOST_SOCKETS[*]} within ${CONNECT_TIMEOUT}s (QEMU is the server and waits for its clients): start the vswitch first"
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      say "QEMU waits for the vswitch to connect to ${VHOST_SOCKETS[*]}"
      next=$((SECONDS + 10))
    fi
    sleep 0.2
  done
  if ! wait "$LPID"; then
    LPID=""
    die "QEMU failed to start (log $LAUNCH_LOG)"
  fi
  LPID=""
  pid=$(vm_pid) || die "QEMU daemonized but $VM_PIDFILE names no live qemu-system process"
  say "QEMU running, pid $pid"
}

# Leftovers of an earlier instance that is gone (killed, crashed, host step interrupted): the
# pidfile, the argv's socket files, the logs. Called only when no QEMU of this VM runs.
clear_leftovers() {
  local s found=()
  for s in "$VM_PIDFILE" "${CHARDEV_SOCKETS[@]}" "$VM_QMP_SOCKET" "$VM_QGA_SOCKET" "$VM_CONSOLE_LOG" "$LAUNCH_LOG"; do
    if [ -S "$s" ] || [ -f "$s" ]; then
      rm -f -- "$s"
      found+=("${s##*/}")
    fi
  done
  if [ "${#found[@]}" -gt 0 ]; then say "removed leftovers of an earlier instance: ${found[*]}"; fi
}

# stop one verified QEMU process quickly (undo, not a shutdown the guest must survive)
kill_qemu() {
  local pid="$1"
  is_our_qemu "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 2; then
    is_our_qemu "$pid" && kill -KILL "$pid" 2>/dev/null
    wait_gone "$pid" 3 || say "WARNING: QEMU pid $pid survives SIGKILL"
  fi
  say "stopped QEMU pid $pid"
}

# Undo a start that failed or was interrupted after it changed the host: stop what it launched
# (the launching process and the daemonized QEMU, verified by comm, -name and -pidfile), print
# the tails of the logs, remove overlay, sockets, pidfile and (unless VM_KEEP_LOGS=1) logs.
# Bounded to a few seconds: a cancelled step gets SIGKILL 3 s after SIGTERM.
undo_start() {
  local pid _ f
  trap '' TERM INT
  UNDO=0
  stop_bg
  if [ -n "$LPID" ] && alive "$LPID"; then kill -TERM "$LPID" 2>/dev/null || true; fi
  for _ in 1 2; do # pass 2: a child that daemonized while pass 1 ran
    if pid=$(vm_pid) || pid=$(orphan_pid); then kill_qemu "$pid"; fi
  done
  if [ -n "$LPID" ]; then
    kill -KILL "$LPID" 2>/dev/null || true
    wait "$LPID" 2>/dev/null || true
  fi
  for f in "$LAUNCH_LOG" "$VM_CONSOLE_LOG"; do
    if [ -s "$f" ]; then
      say "last lines of $f:"
      tail -n 15 -- "$f" | tr -d '\r' | sed 's/^/    /' >&2 || true
    fi
  done
  remove_vm_files "${VM_KEEP_LOGS:-0}"
  say "removed overlay, sockets, pidfile$([ "${VM_KEEP_LOGS:-0}" = 1 ] || echo ' and logs')"
}

wait_agent() { # seconds-budget -> prints nothing; dies on timeout or QEMU exit
  local end=$((SECONDS + $1)) left pid last_line
  need_qga
  while :; do
    left=$((end - SECONDS))
    [ "$left" -gt 0 ] || break
    [ "$left" -le 15 ] || left=15
    if qga -t "$left" ping >/dev/null 2>&1; then return 0; fi
    pid=$(vm_pid) || {
      [ "$UNDO" = 1 ] || tail -n 20 -- "$VM_CONSOLE_LOG" >&2 2>/dev/null || true
      die "QEMU exited while the guest was booting (console log $VM_CONSOLE_LOG)"
    }
    last_line=$(tail -c 2000 -- "$VM_CONSOLE_LOG" 2>/dev/null | tr -d '\r' | grep -a -v '^[[:space:]]*$' | tail -n 1 | cut -c1-100 || true)
    say "waiting for the guest agent${last_line:+ (console: $last_line)}"
  done
  [ "$UNDO" = 1 ] || tail -n 20 -- "$VM_CONSOLE_LOG" >&2 2>/dev/null || true
  die "the guest agent did not answer within ${BOOT_TIMEOUT}s (console log $VM_CONSOLE_LOG)"
}

cmd_start() {
  local pid already=false boot=null launch_s=null t_launch t_up nics bound vrings state n
  if pid=$(vm_pid); then
    already=true
    say "already running (pid $pid)"
  else
    if pid=$(orphan_pid); then
      die "a QEMU for $VM_NAME runs as pid $pid but $VM_PIDFILE does not name it: stop it first (kill $pid)"
    fi
    [ "$HAVE_ARGV" = 1 ] || die "VM_ARGV_B64 is not set"
    check_hugepages
    UNDO=1 # from here on a failure undoes what this start did
    clear_leftovers
    make_overlay
    t_launch=$(now_us)
    launch
    t_up=$(now_us)
    launch_s=$(secs_between "$t_launch" "$t_up")
    pid=$(vm_pid)
  fi

  say "waiting for the guest agent on $VM_QGA_SOCKET (up to ${BOOT_TIMEOUT}s)"
  wait_agent "$BOOT_TIMEOUT"
  if [ "$already" = false ]; then
    boot=$(secs_between "$t_up" "$(now_us)")
    say "guest agent answers after ${boot}s"
  fi

  # the agent may answer before udev has named every NIC: poll for a while
  local -a bound_list=() missing=()
  local names_end=$((SECONDS + NIC_TIMEOUT))
  while :; do
    guest_ifaces_json || die "guest-network-get-interfaces failed"
    nics=$IFACES_JSON
    guest_bound_nics
    bound=$BOUND_NICS
    read -r -a bound_list <<<"$bound"
    missing=()
    for n in "${GUEST_NICS[@]}"; do
      python3 -c 'import json,sys; sys.exit(0 if sys.argv[2] in json.loads(sys.argv[1]) else 1)' "$nics" "$n" ||
        contains "$n" "${bound_list[@]}" || missing+=("$n")
    done
    [ "${#missing[@]}" -gt 0 ] || break
    if [ "$SECONDS" -ge "$names_end" ]; then
      die "guest NICs ${missing[*]} missing (guest has $nics${bound:+; bound to DPDK: $bound}): check the image's udev naming rules"
    fi
    say "guest NICs so far $nics, waiting for ${missing[*]}"
    sleep 3
  done
  bound="${bound_list[*]}"
  # every NIC the guest has: interfaces it shows plus those handed to DPDK earlier
  nics=$(python3 -c 'import json,sys; print(json.dumps(sorted(set(json.loads(sys.argv[1]) + sys.argv[2].split()))))' "$nics" "$bound")
  say "guest NICs: $nics${bound:+ (+ bound to DPDK: $bound)}"

  if [ "$GUEST_TESTPMD" != off ]; then
    start_guest_testpmd
    guest_bound_nics
    bound=$BOUND_NICS
  fi
  guest_testpmd_state
  state=$TESTPMD_STATE
  [ "$GUEST_TESTPMD" = off ] || [ "$state" = running ] || die "guest testpmd is $state after start"

  check_vrings
  vrings=$VRINGS
  record_ring
  save_kit
  output_json start "$pid" "$already" "$boot" "$launch_s" "$nics" "$bound" "$vrings" "$state"
  UNDO=0
}

# the vring size this start asked for, beside the pidfile (status compares it with VM_RING_SIZE)
record_ring() {
  [ -n "${VM_RING_SIZE:-}" ] || return 0
  printf '%s\n' "$VM_RING_SIZE" >"$VM_RUN_DIR/ring"
}
running_ring() { if [ -s "$VM_RUN_DIR/ring" ]; then tr -dc '0-9' <"$VM_RUN_DIR/ring"; fi; }

# The control kit for ring switches (see the header): the scripts and this VM's inputs, root only.
save_kit() {
  [ -n "${VM_RING_ARGVS:-}" ] || return 0
  local kit="$VM_RUN_DIR/ctl" f
  if [ -f "$kit/vm.sh" ] && [ "${BASH_SOURCE[0]}" -ef "$kit/vm.sh" ]; then return 0; fi
  for f in "${VM_RING_SH:-}" "${VM_PIN_SH:-}" "$QMP_PY" "$QGA_PY"; do
    if [ -z "$f" ] || [ ! -f "$f" ]; then die "the control kit needs VM_RING_SH, VM_PIN_SH, QMP_PY and QGA_PY (missing: '${f}')"; fi
  done
  rm -rf -- "$kit"
  install -d -m 0700 -- "$kit"
  install -m 0600 -- "${BASH_SOURCE[0]}" "$kit/vm.sh"
  install -d -m 0700 -- "$kit/lib"
  install -m 0600 -- "$(dirname "${BASH_SOURCE[0]}")/lib/vm-guest.sh" "$kit/lib/vm-guest.sh"
  install -m 0600 -- "$VM_RING_SH" "$kit/vm-ring.sh"
  install -m 0600 -- "$VM_PIN_SH" "$kit/pin-threads.sh"
  install -m 0600 -- "$QMP_PY" "$kit/qmp.py"
  install -m 0600 -- "$QGA_PY" "$kit/qga.py"
  # the inputs as `declare -p` writes them (safe to source); the argv is chosen per size
  {
    declare -p VM_NAME VM_RUN_DIR VM_PIDFILE VM_QMP_SOCKET VM_QGA_SOCKET VM_CONSOLE_LOG \
      VM_BASE_IMAGE VM_BASE_FORMAT VM_OVERLAY VM_BOOT_TIMEOUT VM_GUEST_NICS VM_GUEST_TESTPMD \
      VM_GUEST_HUGEPAGES VM_KEEP_LOGS VM_RING_SIZE VM_RING_ARGVS VM_PIN_CPUS VM_PIN_OTHER_CPUS \
      VM_GUEST_MAX_PKT_LEN VM_GUEST_MBUF_SIZE VM_GUEST_MBUFS \
      2>/dev/null || true
    printf 'QMP_PY=%q\nQGA_PY=%q\nLAB_STATE_DIR=%q\nLAB_STEP_NAME=%q\n' "$kit/qmp.py" "$kit/qga.py" \
      "${LAB_STATE_DIR:-}" "${LAB_STEP_NAME:-}"
  } >"$kit/env"
  chmod 0600 -- "$kit/env"
}

output_json() { # action pid already boot launch nics bound vrings testpmd
  local bound_json ring
  ring=$(running_ring || true)
  bound_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split()))' "$7")
  json_obj s action "$1" s vm "$VM_NAME" s state running j pid "$2" j alreadyRunning "$3" \
    j vcpuTids "$(vcpu_tids_json "$2")" j vcpuThreads "$(vcpu_threads_json "$2")" \
    j launchSeconds "$5" j bootSeconds "$4" j guestNics "$6" j guestNicsBoundToDpdk "$bound_json" \
    j vringSizes "$8" s guestTestpmd "$9" j ring "${ring:-null}" \
    s qmpSocket "$VM_QMP_SOCKET" s qgaSocket "$VM_QGA_SOCKET" s consoleLog "$VM_CONSOLE_LOG"
}

# ---------------------------------------------------------------------------------------------
# status

cmd_status() {
  local pid agent=false nics='[]' bound="" state=off vrings=null
  if ! pid=$(vm_pid); then
    json_obj s action status s vm "$VM_NAME" s state stopped j pid null
    exit 3
  fi
  local ring
  ring=$(running_ring || true)
  if [ -n "${VM_RING_SIZE:-}" ] && [ -n "$ring" ] && [ "$ring" != "$VM_RING_SIZE" ]; then
    say "runs with vring size $ring, deployed with $VM_RING_SIZE (a ring switch was not put back)"
    json_obj s action status s vm "$VM_NAME" s state ring-drift j pid "$pid" j ring "$ring"
    exit 3
  fi
  if [ -n "$QGA_PY" ] && [ -f "$QGA_PY" ] && qga -t 5 ping >/dev/null 2>&1; then
    agent=true
    if guest_ifaces_json; then nics=$IFACES_JSON; fi
    guest_bound_nics
    bound=$BOUND_NICS
    nics=$(python3 -c 'import json,sys; print(json.dumps(sorted(set(json.loads(sys.argv[1]) + sys.argv[2].split()))))' "$nics" "$bound")
    guest_testpmd_state
    state=$TESTPMD_STATE
  else
    state=unknown
  fi
  query_vrings
  vrings=$VRINGS_JSON
  json_obj s action status s vm "$VM_NAME" s state running j pid "$pid" j agent "$agent" \
    j vcpuTids "$(vcpu_tids_json "$pid")" j vcpuThreads "$(vcpu_threads_json "$pid")" \
    j guestNics "$nics" j guestNicsBoundToDpdk "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split()))' "$bound")" \
    j vringSizes "$vrings" s guestTestpmd "$state" j ring "${ring:-null}"
}

# the step's drift probe, cheap (no QMP, no agent): exit 3 when QEMU is not running or runs with
# another vring size than VM_RING_SIZE
cmd_probe() {
  local pid ring
  if ! pid=$(vm_pid); then
    say "QEMU is not running"
    exit 3
  fi
  ring=$(running_ring || true)
  if [ -n "${VM_RING_SIZE:-}" ] && [ -n "$ring" ] && [ "$ring" != "$VM_RING_SIZE" ]; then
    say "runs with vring size $ring, deployed with $VM_RING_SIZE (a ring switch was not put back)"
    exit 3
  fi
  json_obj s action probe s vm "$VM_NAME" j pid "$pid" j ring "${ring:-null}"
}

# what the virtio devices negotiated, over QMP only (the benchmark asks before every cell)
cmd_vrings() {
  local pid ring
  if ! pid=$(vm_pid); then
    json_obj s action vrings s vm "$VM_NAME" s state stopped j pid null
    exit 3
  fi
  ring=$(running_ring || true)
  query_vrings 2>/dev/null
  json_obj s action vrings s vm "$VM_NAME" s state running j pid "$pid" j ring "${ring:-null}" \
    j vringSizes "$VRINGS_JSON"
}

# ---------------------------------------------------------------------------------------------
# stop

# backing file of a qcow2 image ("" when none or not an image)
backing_of() {
  qemu-img info -U --output=json -- "$1" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename", ""))' 2>/dev/null || true
}

# delete the overlay only if it is one: never the base image, never a file without a backing file
remove_overlay() {
  local backing
  if [ -n "${VM_BASE_IMAGE:-}" ] && [ "$1" -ef "$VM_BASE_IMAGE" ]; then
    die "VM_OVERLAY $1 is the base image: not deleting it"
  fi
  backing=$(backing_of "$1")
  if [ -z "$backing" ]; then
    say "WARNING: $1 has no backing file, so it is not an overlay of this script: left in place"
    return 0
  fi
  rm -f -- "$1"
}

# files of the VM: the overlay, every socket of the argv, the pidfile; the logs unless $1 = 1;
# the run dir when that leaves it empty
remove_vm_files() {
  local s
  if [ -n "${VM_OVERLAY:-}" ] && [ -f "$VM_OVERLAY" ]; then remove_overlay "$VM_OVERLAY"; fi
  for s in "${CHARDEV_SOCKETS[@]}" "$VM_QMP_SOCKET" "$VM_QGA_SOCKET" "$VM_RUN_DIR/$VM_NAME-console.sock"; do
    if [ -S "$s" ] || [ ! -e "$s" ]; then rm -f -- "$s"; fi
  done
  rm -f -- "$VM_PIDFILE"
  if [ "$1" != 1 ]; then rm -f -- "$VM_CONSOLE_LOG" "$LAUNCH_LOG"; fi
  if [ "${VM_KEEP_CTL:-0}" != 1 ]; then
    rm -f -- "$VM_RUN_DIR/ring"
    if [ -d "$VM_RUN_DIR/ctl" ] && [ ! -L "$VM_RUN_DIR/ctl" ]; then rm -rf -- "$VM_RUN_DIR/ctl"; fi
  fi
  rmdir -- "$VM_RUN_DIR" 2>/dev/null || true
}

cmd_stop() {
  local pid how=not-running s
  if pid=$(vm_pid); then
    if [ -n "$QGA_PY" ] && [ -f "$QGA_PY" ] && [ -S "$VM_QGA_SOCKET" ]; then
      if out=$(timeout 20 python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 15 exec "$(guest_testpmd_stop_script)" 2>/dev/null); then
        [ -z "$out" ] || say "guest testpmd $out"
      else
        say "guest testpmd: no answer from the agent (ignored)"
      fi
    fi
    how=qmp-quit
    if qmp --timeout 10 "$VM_QMP_SOCKET" quit >/dev/null 2>&1; then
      say "QMP quit sent to pid $pid"
      wait_gone "$pid" "$STOP_TIMEOUT" || how=sigterm
    else
      say "QMP quit not possible (no QMP_PY or no answer): SIGTERM"
      how=sigterm
    fi
    if [ "$how" = sigterm ] && is_our_qemu "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || how=sigkill
    fi
    if [ "$how" = sigkill ] && is_our_qemu "$pid"; then
      say "still running after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "QEMU pid $pid does not die"
    fi
    say "QEMU pid $pid gone ($how)"
  elif pid=$(orphan_pid); then
    die "a QEMU for $VM_NAME runs as pid $pid but $VM_PIDFILE does not name it; not touching it (kill $pid by hand)"
  else
    pid=null
  fi
  remove_vm_files "${VM_KEEP_LOGS:-0}"
  json_obj s action stop s vm "$VM_NAME" s state stopped j pid "$pid" s how "$how" \
    j logsKept "$([ "${VM_KEEP_LOGS:-0}" = 1 ] && echo true || echo false)"
}

# ---------------------------------------------------------------------------------------------

case "$CMD" in
start | stop | status | probe | vrings) ;;
*)
  printf 'usage: vm.sh start|stop|status|probe|vrings (inputs in VM_* environment variables, see the header)\n' >&2
  exit 2
  ;;
esac
load_inputs
NAME_FOR_LOG="$VM_NAME"
[ "$(id -u)" = 0 ] || die "run as root"
command -v python3 >/dev/null || die "python3 not found"
"cmd_$CMD"
