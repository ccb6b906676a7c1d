#!/usr/bin/env bash
# Host DPDK testpmd as the lab's vswitch (DESIGN.md §4): an L2 cross-connect like CSIT's l2xcbase.
#
#   port 0 net_af_packet0 (VSWITCH_AF_IFACES[0], toward the TG) <-> port 1 net_vhost0 (VM NIC 0)
#   port 2 net_vhost1 (VM NIC 1)                                <-> port 3 net_af_packet1 (toward the TG)
#
# testpmd's --port-topology=paired forwards 0<->1 and 2<->3, so the vdevs are declared in that
# order. Several VMs make a chain (CSIT's 4vhost-2vm, 8vhost-4vm): the sockets come two per VM in
# VM order, and declaring af0, vhost0 .. vhost(2n-1), af1 pairs VM k's second NIC with VM k+1's
# first one (2 VMs: 0 af0<->1 vm1 nic0, 2 vm1 nic1<->3 vm2 nic0, 4 vm2 nic1<->5 af1). The vhost ports are clients (client=1; DPDK reconnects by itself), so the vswitch can start
# before QEMU creates the server sockets. VSWITCH_VHOST_SOCKETS=none gives a VM-less smoke setup:
# af0 <-> af1 only.
#
# Usage (as root, e.g. `bash -s -- start < vswitch-testpmd.sh` over SSH):
#   vswitch-testpmd.sh start    start detached (setsid, log file, pidfile) unless already running.
#                               Leftovers of a dead earlier run of this prefix (stale pidfile,
#                               hugepage files, DPDK runtime dir) are removed first. When testpmd
#                               was launched and a later check fails (not forwarding within
#                               VSWITCH_START_TIMEOUT, wrong port count, exited) or SIGTERM/SIGINT
#                               arrives, the start is undone: testpmd stopped (verified pid), its
#                               hugepage files and runtime dir removed, then exit non-zero.
#   vswitch-testpmd.sh status   JSON: pid, worker TIDs (rte-worker-*), ports and counters; the
#                               drift probe of the vswitch
#   vswitch-testpmd.sh stop     SIGINT, wait, SIGKILL the verified pid only; remove hugepage files
#                               and the runtime dir of this file-prefix
# Exit codes: 0 done (status: testpmd runs); 1 failed (start: undone as above); 3 status only:
#   testpmd is not running (JSON line with "running":false); 130/143 start interrupted by
#   SIGINT/SIGTERM (undone as above).
# Environment (defaults in brackets; LAB_RUN_DIR comes from the step wrapper, default
# /run/vhost-perf-lab):
#   VSWITCH_PREFIX [vpl-vswitch]  DPDK --file-prefix; also names the run dir (the caller puts the
#                  stack's name in it: two stacks on one host must not share a prefix)
#   VSWITCH_HUGE_DIR  hugetlbfs mount for testpmd's memory (--huge-dir), e.g. the stack's
#                  $LAB_RUN_DIR/hugepages-2048kB; default: DPDK picks a mount of the default size
#   VSWITCH_MAIN_CORE [0]  VSWITCH_WORKER_CORES [1]  (comma list: one forwarding lcore each)
#   VSWITCH_AF_IFACES [vpl-sw0,vpl-sw1]
#   VSWITCH_VHOST_SOCKETS [$LAB_RUN_DIR/vm1-vhu0.sock,$LAB_RUN_DIR/vm1-vhu1.sock] | none
#                  (two per VM, VM order: the chain's order)
#   VSWITCH_VHOST_QUEUES [1]  VSWITCH_MEM_MB [512]  VSWITCH_HUGE [1] (0: --no-huge, anonymous memory)
#   VSWITCH_MBUFS [16384]  VSWITCH_RXD [1024]  VSWITCH_TXD [1024]  VSWITCH_BURST [32]
#   VSWITCH_FWD_MODE [io]  VSWITCH_STATS_PERIOD [60]  VSWITCH_MAX_FRAME [1518] (bytes incl. FCS)
#   VSWITCH_AF_FRAMESZ / VSWITCH_AF_BLOCKSZ / VSWITCH_AF_FRAMECNT / VSWITCH_MBUF_SIZE [derived from
#                  VSWITCH_MAX_FRAME: 2048/4096/4096/testpmd's default up to 1518 B]
#   VSWITCH_RUN_DIR [$LAB_RUN_DIR/<prefix>]  VSWITCH_START_TIMEOUT [30]  VSWITCH_STOP_TIMEOUT [10]
#   VSWITCH_KEEP_LOG [1] (0: stop also removes the log and the run dir)
#   VSWITCH_TESTPMD [dpdk-testpmd]  VSWITCH_TELEMETRY_CLIENT [dpdk_telemetry.py beside this script]
# stdout: one JSON line. Diagnostics: stderr.
set -euo pipefail

LAB_RUN="${LAB_RUN_DIR:-/run/vhost-perf-lab}"
PREFIX="${VSWITCH_PREFIX:-vpl-vswitch}"
MAIN_CORE="${VSWITCH_MAIN_CORE:-0}"
WORKER_CORES="${VSWITCH_WORKER_CORES:-1}"
AF_IFACES_CSV="${VSWITCH_AF_IFACES:-vpl-sw0,vpl-sw1}"
VHOST_SOCKETS_CSV="${VSWITCH_VHOST_SOCKETS:-${LAB_RUN}/vm1-vhu0.sock,${LAB_RUN}/vm1-vhu1.sock}"
VHOST_QUEUES="${VSWITCH_VHOST_QUEUES:-1}"
MEM_MB="${VSWITCH_MEM_MB:-512}"
HUGE="${VSWITCH_HUGE:-1}"
MBUFS="${VSWITCH_MBUFS:-16384}"
RXD="${VSWITCH_RXD:-1024}"
TXD="${VSWITCH_TXD:-1024}"
BURST="${VSWITCH_BURST:-32}"
FWD_MODE="${VSWITCH_FWD_MODE:-io}"
STATS_PERIOD="${VSWITCH_STATS_PERIOD:-60}"
MAX_FRAME="${VSWITCH_MAX_FRAME:-1518}"
RUN_DIR="${VSWITCH_RUN_DIR:-${LAB_RUN}/${PREFIX}}"
HUGE_DIR="${VSWITCH_HUGE_DIR:-}"
START_TIMEOUT="${VSWITCH_START_TIMEOUT:-30}"
STOP_TIMEOUT="${VSWITCH_STOP_TIMEOUT:-10}"
TESTPMD="${VSWITCH_TESTPMD:-dpdk-testpmd}"
KEEP_LOG="${VSWITCH_KEEP_LOG:-1}"
DPDK_RUNTIME="/var/run/dpdk/${PREFIX}"

PIDFILE="${RUN_DIR}/testpmd.pid"
LOGFILE="${RUN_DIR}/testpmd.log"

note() { printf 'vswitch-testpmd: %s\n' "$*" >&2; }
# UNDO=1 from the moment start launches testpmd until its JSON line is out: a failure (die, an
# unexpected error, SIGTERM/SIGINT) then stops it and removes its files (undo_start).
UNDO=0
die() {
  printf 'vswitch-testpmd: ERROR: %s\n' "$*" >&2
  if [[ "$UNDO" == 1 && "$BASH_SUBSHELL" == 0 ]]; then
    undo_start
    printf 'vswitch-testpmd: ERROR: %s (start undone)\n' "$*" >&2
  fi
  exit 1
}
on_exit() {
  local rc=$?
  if [[ "$rc" != 0 && "$UNDO" == 1 && "$BASH_SUBSHELL" == 0 ]]; then
    note "start stopped unexpectedly (exit $rc): undoing it"
    undo_start
    note "ERROR: start failed (exit $rc), start undone"
  fi
}
on_signal() { # signal-name exit-code
  trap - EXIT
  if [[ "$UNDO" == 1 ]]; then
    note "interrupted by SIG$1: undoing the start"
    undo_start
    note "ERROR: interrupted by SIG$1 (start undone)"
  else
    note "ERROR: interrupted by SIG$1"
  fi
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

validate() {
  # The prefix ends up in rm paths: keep it to a safe alphabet.
  [[ "$PREFIX" =~ ^[A-Za-z0-9_-]{1,48}$ ]] || die "bad VSWITCH_PREFIX '$PREFIX'"
  is_uint "$MAIN_CORE" || die "bad VSWITCH_MAIN_CORE '$MAIN_CORE'"
  [[ "$WORKER_CORES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "bad VSWITCH_WORKER_CORES '$WORKER_CORES'"
  local v
  for v in "$VHOST_QUEUES" "$MEM_MB" "$MBUFS" "$RXD" "$TXD" "$BURST" "$STATS_PERIOD" "$MAX_FRAME" \
    "$START_TIMEOUT" "$STOP_TIMEOUT"; do
    is_uint "$v" || die "expected a whole number, got '$v'"
  done
  [[ "$HUGE" == 0 || "$HUGE" == 1 ]] || die "VSWITCH_HUGE must be 0 or 1"
  [[ -z "$HUGE_DIR" || "$HUGE_DIR" == /* ]] || die "VSWITCH_HUGE_DIR must be an absolute path, got '$HUGE_DIR'"
  [[ "$RUN_DIR" == /* ]] || die "VSWITCH_RUN_DIR must be an absolute path, got '$RUN_DIR'"
  [[ "$FWD_MODE" =~ ^[a-z-]+$ ]] || die "bad VSWITCH_FWD_MODE '$FWD_MODE'"
  local core
  IFS=',' read -r -a WORKERS <<<"$WORKER_CORES"
  for core in "${WORKERS[@]}"; do
    [[ "$core" != "$MAIN_CORE" ]] || die "worker core $core is also the main core"
  done
  IFS=',' read -r -a AF_IFACES <<<"$AF_IFACES_CSV"
  ((${#AF_IFACES[@]} == 2)) || die "VSWITCH_AF_IFACES needs exactly two interfaces"
  if [[ "$VHOST_SOCKETS_CSV" == none ]]; then
    VHOST_SOCKETS=()
  else
    IFS=',' read -r -a VHOST_SOCKETS <<<"$VHOST_SOCKETS_CSV"
    local n=${#VHOST_SOCKETS[@]}
    ((n >= 2 && n % 2 == 0 && n <= 64)) ||
      die "VSWITCH_VHOST_SOCKETS needs two socket paths per VM (2, 4, ... 64), got ${n} (or 'none')"
    local s
    for s in "${VHOST_SOCKETS[@]}"; do
      [[ "$s" == /* && "$s" != *,* ]] || die "vhost socket path must be absolute without commas: '$s'"
    done
  fi
}

json_str() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/ }"
  printf '"%s"' "$s"
}

# The pid in the pidfile, but only if that process is our testpmd (binary and file-prefix match).
verified_pid() {
  [[ -r "$PIDFILE" ]] || return 1
  local pid
  pid="$(head -c 32 "$PIDFILE" | tr -dc '0-9')"
  [[ -n "$pid" && -r "/proc/${pid}/cmdline" ]] || return 1
  local cmdline
  cmdline="$(tr '\0' '\n' 2>/dev/null <"/proc/${pid}/cmdline" || true)"
  grep -q 'testpmd' <<<"$cmdline" || return 1
  grep -qxF -- "--file-prefix=${PREFIX}" <<<"$cmdline" || return 1
  printf '%s' "$pid"
}

# Any process (ours or not) still using this file-prefix: its hugepage files must then stay.
prefix_in_use() {
  [[ -n "$(prefix_procs)" ]]
}
# pids of the processes with this --file-prefix (testpmd, or its launcher just before the exec)
prefix_procs() {
  local f
  while IFS= read -r f; do
    f=${f#/proc/}
    f=${f%/cmdline}
    alive "$f" && printf '%s\n' "$f"
  done < <(grep -lszxF -- "--file-prefix=${PREFIX}" /proc/[0-9]*/cmdline)
  return 0
}
# those of them that are a testpmd or this script's launcher of one (what undo may stop)
own_procs() {
  local p
  for p in $(prefix_procs); do
    tr '\0' '\n' 2>/dev/null <"/proc/$p/cmdline" | grep -qE '^vswitch-launch$|testpmd' && printf '%s\n' "$p"
  done
  return 0
}

# Running and not a zombie (a killed daemon may wait for its reaper for a while).
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

hugetlbfs_mounts() {
  awk '$3 == "hugetlbfs" {print $2}' /proc/mounts
}

cleanup_prefix_files() {
  if prefix_in_use; then
    note "file-prefix ${PREFIX} still in use by a process; leaving its hugepage files alone"
    return 0
  fi
  local mnt removed=0 f
  while read -r mnt; do
    [[ -n "$mnt" ]] || continue
    for f in "${mnt}/${PREFIX}map_"*; do
      [[ -e "$f" ]] || continue
      rm -f -- "$f"
      removed=$((removed + 1))
    done
  done < <(hugetlbfs_mounts)
  if [[ -d "$DPDK_RUNTIME" ]]; then
    rm -rf -- "$DPDK_RUNTIME"
  fi
  rmdir -- /var/run/dpdk 2>/dev/null || true # only if no other DPDK process left anything there
  CLEANED_HUGEFILES="$removed"
}

worker_threads_json() {
  local pid="$1" t comm cpus sep="" out=""
  for t in /proc/"$pid"/task/*; do
    comm="$(cat "$t/comm" 2>/dev/null || true)"
    [[ "$comm" == rte-worker-* ]] || continue
    cpus="$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null || true)"
    out+="${sep}{\"tid\":${t##*/},\"name\":$(json_str "$comm"),\"cpus\":$(json_str "$cpus")}"
    sep=","
  done
  printf '[%s]' "$out"
}

telemetry_client() {
  if [[ -n "${VSWITCH_TELEMETRY_CLIENT:-}" ]]; then
    printf '%s' "$VSWITCH_TELEMETRY_CLIENT"
    return 0
  fi
  local here
  if [[ -n "${BASH_SOURCE[0]:-}" && -f "${BASH_SOURCE[0]}" ]]; then
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    if [[ -f "${here}/dpdk_telemetry.py" ]]; then
      printf '%s' "${here}/dpdk_telemetry.py"
      return 0
    fi
  fi
  return 1
}

ports_json() {
  local client out
  if ! client="$(telemetry_client)"; then
    printf 'null'
    return 0
  fi
  if out="$(python3 "$client" --prefix "$PREFIX" --ports 2>/dev/null)" && [[ "$out" == \{* ]]; then
    printf '%s' "$out"
  else
    printf 'null'
  fi
}

status_json() {
  local action="$1" extra="${2:-}" pid running=false workers="[]" tids="" ports="null"
  if pid="$(verified_pid)"; then
    running=true
    workers="$(worker_threads_json "$pid")"
    tids="$(grep -o '"tid":[0-9]*' <<<"$workers" | cut -d: -f2 | paste -sd, -)"
    ports="$(ports_json)"
  else
    pid=null
  fi
  local mode=vhost socks="" s p pairs=""
  if ((${#VHOST_SOCKETS[@]} == 0)); then
    mode=afpacket-only
  else
    for s in "${VHOST_SOCKETS[@]}"; do socks+="${socks:+,}$(json_str "$s")"; done
  fi
  # paired topology: (0,1), (2,3), ... over all ports in declaration order
  for ((p = 0; p < $(expected_ports); p += 2)); do pairs+="${pairs:+,}[$p,$((p + 1))]"; done
  pairs="[${pairs}]"
  printf '{"action":%s,"prefix":%s,"running":%s,"pid":%s,"mainCore":%s,"workerCores":[%s],' \
    "$(json_str "$action")" "$(json_str "$PREFIX")" "$running" "$pid" "$MAIN_CORE" "$WORKER_CORES"
  printf '"workers":%s,"workerTids":[%s],"mode":%s,"portTopology":"paired","pairs":%s,"afIfaces":[%s,%s],"vhostSockets":[%s],' \
    "$workers" "$tids" "$(json_str "$mode")" "$pairs" "$(json_str "${AF_IFACES[0]}")" "$(json_str "${AF_IFACES[1]}")" "$socks"
  printf '"telemetry":%s,"log":%s%s}\n' "$ports" "$(json_str "$LOGFILE")" "$extra"
}

check_prereqs() {
  [[ "$(id -u)" == 0 ]] || die "start needs root"
  command -v "$TESTPMD" >/dev/null || die "$TESTPMD not found (Debian: apt-get install dpdk-dev)"
  command -v setsid >/dev/null || die "setsid not found (util-linux)"
  local ifc
  for ifc in "${AF_IFACES[@]}"; do
    [[ -e "/sys/class/net/${ifc}" ]] || die "interface ${ifc} does not exist (run tg-netns.sh setup first)"
  done
  if [[ "$HUGE" == 1 ]]; then
    [[ -n "$(hugetlbfs_mounts)" ]] ||
      die "no hugetlbfs mounted (mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages)"
    local free size_kb need
    if [[ -n "$HUGE_DIR" ]]; then
      [[ "$(stat -f -c %T -- "$HUGE_DIR" 2>/dev/null)" == hugetlbfs ]] ||
        die "VSWITCH_HUGE_DIR $HUGE_DIR is not a hugetlbfs mount"
      size_kb=$(($(stat -f -c %S -- "$HUGE_DIR") / 1024))
      free="$(cat "/sys/kernel/mm/hugepages/hugepages-${size_kb}kB/free_hugepages")"
    else
      free="$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)"
      size_kb="$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)"
    fi
    need=$(((MEM_MB * 1024 + size_kb - 1) / size_kb))
    ((free >= need)) ||
      die "need ${need} free hugepages of ${size_kb} kB for ${MEM_MB} MB, ${free} free (raise /proc/sys/vm/nr_hugepages or set VSWITCH_HUGE=0)"
  fi
}

build_args() {
  # af_packet ring and mbuf sizes: what the program computed from the lab's largest frame
  # (lib/lab/frames.ts vswitchFrameSizes, VSWITCH_AF_* / VSWITCH_MBUF_SIZE), else the same rule here.
  # Jumbo frames: one ring frame must hold a whole packet (frame + tpacket header, 2 KiB steps, two
  # per block so blocks stay whole pages) and so must one mbuf (the PMD refuses a queue whose mbuf
  # data room is below framesz - 32). No --max-pkt-len: net_af_packet (22.11) reports a 1518 B max
  # frame and refuses it; what the kernel hands over is bounded by the interface MTU instead.
  local framesz=2048 blocksz=4096 framecnt=4096 mbuf_size=""
  if ((MAX_FRAME > 1518)); then
    framesz=$((((MAX_FRAME + 64 + 2047) / 2048) * 2048))
    blocksz=$((framesz * 2))
    framecnt=1024
    mbuf_size=$((framesz + 128))
  fi
  framesz="${VSWITCH_AF_FRAMESZ:-$framesz}"
  blocksz="${VSWITCH_AF_BLOCKSZ:-$blocksz}"
  framecnt="${VSWITCH_AF_FRAMECNT:-$framecnt}"
  mbuf_size="${VSWITCH_MBUF_SIZE:-$mbuf_size}"
  local v
  for v in "$framesz" "$blocksz" "$framecnt" "${mbuf_size:-0}"; do
    is_uint "$v" || die "af_packet/mbuf sizes must be whole numbers, got '$v'"
  done
  ((framesz >= MAX_FRAME + 64)) || die "VSWITCH_AF_FRAMESZ ${framesz} cannot hold a ${MAX_FRAME} B frame"
  ((blocksz % 4096 == 0 && blocksz % framesz == 0)) ||
    die "VSWITCH_AF_BLOCKSZ ${blocksz} must be a multiple of the page size and of framesz ${framesz}"
  local afopts="qpairs=1,blocksz=${blocksz},framesz=${framesz},framecnt=${framecnt}"
  local pmdopts=()
  [[ -z "$mbuf_size" ]] || pmdopts=("--mbuf-size=${mbuf_size}")
  ARGS=(-l "${MAIN_CORE},${WORKER_CORES}" --main-lcore "$MAIN_CORE" -n 1 --no-pci
    "--file-prefix=${PREFIX}")
  if [[ "$HUGE" == 1 ]]; then
    ARGS+=(--socket-mem "$MEM_MB")
    [[ -z "$HUGE_DIR" ]] || ARGS+=(--huge-dir "$HUGE_DIR")
  else
    ARGS+=(--no-huge -m "$MEM_MB")
  fi
  ARGS+=(--vdev "net_af_packet0,iface=${AF_IFACES[0]},${afopts}")
  local i
  for i in "${!VHOST_SOCKETS[@]}"; do
    ARGS+=(--vdev "net_vhost${i},iface=${VHOST_SOCKETS[$i]},queues=${VHOST_QUEUES},client=1")
  done
  ARGS+=(--vdev "net_af_packet1,iface=${AF_IFACES[1]},${afopts}")
  ARGS+=(-- "--nb-cores=${#WORKERS[@]}" "--forward-mode=${FWD_MODE}" --port-topology=paired
    "--total-num-mbufs=${MBUFS}" "--rxd=${RXD}" "--txd=${TXD}" "--burst=${BURST}"
    "--stats-period=${STATS_PERIOD}" --disable-link-check "${pmdopts[@]}")
}

# Stop what this start launched and remove its files; quick (a cancelled step gets SIGKILL
# 3 s after SIGTERM): SIGINT, 1 s, SIGKILL, for the verified pid and any process still carrying
# this --file-prefix and naming testpmd or its launcher (own_procs).
undo_start() {
  local pid p deadline
  trap '' TERM INT
  UNDO=0
  pid="$(verified_pid || true)"
  for p in $pid $(own_procs); do kill -INT "$p" 2>/dev/null || true; done
  deadline=$((SECONDS + 1))
  while [[ -n "$(own_procs)" ]] && ((SECONDS <= deadline)); do sleep 0.1; done
  for p in $(own_procs); do kill -KILL "$p" 2>/dev/null || true; done
  deadline=$((SECONDS + 2))
  while [[ -n "$(own_procs)" ]] && ((SECONDS <= deadline)); do sleep 0.1; done
  [[ -z "$pid" ]] || note "stopped testpmd pid $pid"
  if [[ -s "$LOGFILE" ]]; then
    note "last lines of $LOGFILE:"
    tail -n 25 -- "$LOGFILE" | sed 's/^/    /' >&2 || true
  fi
  rm -f -- "$PIDFILE"
  CLEANED_HUGEFILES=0
  cleanup_prefix_files
  if [[ "$KEEP_LOG" == 0 ]]; then
    rm -f -- "$LOGFILE" "${RUN_DIR}/cmdline"
    rmdir -- "$RUN_DIR" 2>/dev/null || true
  fi
  note "removed the pidfile, ${CLEANED_HUGEFILES} hugepage file(s) and the runtime dir of prefix ${PREFIX}"
}

# the ports testpmd forwards on: the two af_packet ports and every vhost port (4 for one VM)
expected_ports() { echo $((2 + ${#VHOST_SOCKETS[@]})); }

start() {
  local pid
  if pid="$(verified_pid)"; then
    status_json start ',"alreadyRunning":true'
    return 0
  fi
  check_prereqs
  UNDO=1 # from here on a failure undoes what this start did
  mkdir -p -- "$RUN_DIR"
  local leftover=0
  if [[ -e "$PIDFILE" ]]; then
    leftover=1
    rm -f -- "$PIDFILE"
  fi
  CLEANED_HUGEFILES=0
  [[ ! -d "$DPDK_RUNTIME" ]] || leftover=1
  cleanup_prefix_files # leftovers of an earlier killed run with this prefix
  local stale_huge="$CLEANED_HUGEFILES"
  if ((leftover == 1 || stale_huge > 0)); then
    note "removed leftovers of an earlier run of prefix ${PREFIX}: pidfile/runtime dir, ${stale_huge} hugepage file(s)"
  fi
  local s
  for s in "${VHOST_SOCKETS[@]}"; do
    mkdir -p -- "$(dirname -- "$s")"
  done
  build_args
  printf '%q ' "$TESTPMD" "${ARGS[@]}" >"${RUN_DIR}/cmdline"
  # Fully detached: new session, stdin from /dev/null, output to the log. The inner shell writes
  # its own pid and then becomes testpmd, so the pidfile holds testpmd's pid.
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid -f bash -c 'echo "$$" >"$1"; shift; exec "$@"' vswitch-launch "$PIDFILE" "$TESTPMD" "${ARGS[@]}" \
    </dev/null >"$LOGFILE" 2>&1
  local deadline=$((SECONDS + START_TIMEOUT)) ready=0
  while ((SECONDS < deadline)); do
    if [[ -s "$PIDFILE" ]]; then
      pid="$(tr -dc '0-9' <"$PIDFILE")"
      if [[ -n "$pid" ]] && ! alive "$pid"; then
        break
      fi
      if [[ -n "$pid" ]] && grep -q 'packet forwarding - ports=' "$LOGFILE" 2>/dev/null &&
        compgen -G "/proc/${pid}/task/*" >/dev/null &&
        grep -qs '^rte-worker-' /proc/"$pid"/task/*/comm; then
        ready=1
        break
      fi
    fi
    sleep 0.2
  done
  ((ready == 1)) || die "testpmd did not start forwarding within ${START_TIMEOUT}s (log: $LOGFILE)"
  local ports want
  want=$(expected_ports)
  ports=$(sed -n 's/.*packet forwarding - ports=\([0-9]*\).*/\1/p' "$LOGFILE" | head -n 1)
  [[ "$ports" == "$want" ]] || die "testpmd forwards on ${ports:-?} ports, expected ${want} (log: $LOGFILE)"
  pid="$(verified_pid)" || die "testpmd exited right after it started (log: $LOGFILE)"
  status_json start ",\"alreadyRunning\":false,\"removedStaleHugepageFiles\":${stale_huge}"
  UNDO=0
}

stop() {
  local pid how=not-running
  CLEANED_HUGEFILES=0
  if pid="$(verified_pid)"; then
    how=sigint
    kill -INT "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while alive "$pid" && ((SECONDS < deadline)); do
      sleep 0.2
    done
    # Same pid, still ours? Re-verify before the hard kill.
    if alive "$pid" && [[ "$(verified_pid || true)" == "$pid" ]]; then
      how=sigkill
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 5))
      while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
      alive "$pid" && die "testpmd pid $pid survived SIGKILL"
    fi
  elif [[ -e "$PIDFILE" ]]; then
    how=stale-pidfile
  fi
  rm -f -- "$PIDFILE"
  cleanup_prefix_files
  if [[ "$KEEP_LOG" == 0 ]]; then
    rm -f -- "$LOGFILE" "${RUN_DIR}/cmdline"
    rmdir -- "$RUN_DIR" 2>/dev/null || true
  fi
  status_json stop ",\"stoppedBy\":$(json_str "$how"),\"removedHugepageFiles\":${CLEANED_HUGEFILES}"
}

main() {
  local cmd="${1:-}"
  validate
  case "$cmd" in
  start) start ;;
  stop) stop ;;
  status)
    status_json status
    verified_pid >/dev/null || exit 3
    ;;
  *) die "usage: vswitch-testpmd.sh start|stop|status" ;;
  esac
}

main "$@"
