#!/usr/bin/env bash
# OVS-DPDK (Debian's openvswitch-switch-dpdk) as the lab's vswitch, without systemd and without
# the system's /var/run/openvswitch: ovsdb-server and ovs-vswitchd run from the lab's own
# directory (database, unix sockets, pidfiles, logs), under a DPDK file-prefix of their own.
#
#   NIC port i (af_packet vdev on a host interface, or a PCI NIC)  <->  vhost-user client port i
#
# or, with two NIC ports and several VMs (two sockets each, VM order), a chain as CSIT's
# 4vhost-2vm tests: NIC 0 <-> VM1 nic0, VM1 nic1 <-> VM2 nic0, ..., VMn nic1 <-> NIC 1.
#
# one netdev bridge, two OpenFlow rules per pair (in_port=nic -> vhost and back; CSIT's l2xc),
# PMD threads on the worker cores (pmd-cpu-mask), everything else on the main core (the daemons
# run under taskset, dpdk-lcore-mask). The vhost ports are dpdkvhostuserclient: QEMU is the
# server; OVS reconnects by itself, so the vswitch starts before the VMs.
#
# Usage (as root, e.g. `bash -s -- start < vswitch-ovs.sh` over SSH):
#   vswitch-ovs.sh start    create the db, start both daemons, configure DPDK, the bridge, ports
#                           and flows; print the status. Already running (verified pids): status
#                           only. Anything failing after the first change (or SIGTERM/SIGINT)
#                           undoes the start: daemons stopped, dirs and DPDK files removed.
#   vswitch-ovs.sh status   JSON: pids, PMD thread ids, ports with counters, vhost ring sizes
#                           (exit 3 when not running)
#   vswitch-ovs.sh stop     stop the two daemons it started (verified pids), remove its run dir,
#                           the DPDK runtime dir and hugepage files of its file-prefix
# Environment (defaults in brackets; LAB_RUN_DIR comes from the step wrapper):
#   VSWITCH_PREFIX [vpl-ovs]  names the run dir and the DPDK --file-prefix
#   VSWITCH_RUN_DIR [$LAB_RUN_DIR/<prefix>]   VSWITCH_BRIDGE [vplbr0]
#   VSWITCH_MAIN_CORE [0]  VSWITCH_WORKER_CORES [1]  (comma list: one PMD thread each)
#   VSWITCH_NIC_PORTS [af_packet:ovs0,af_packet:ovs1]  af_packet:<ifname> | pci:<address>
#   VSWITCH_VHOST_SOCKETS [none]  comma list, one per NIC port (two NIC ports: two per VM, any
#                  number of VMs, chained), or none (NIC ports only)
#   VSWITCH_RX_QUEUES [1]  VSWITCH_MEM_MB [512]  VSWITCH_HUGE_DIR [] (hugetlbfs mount)
#   VSWITCH_START_TIMEOUT [60]  VSWITCH_STOP_TIMEOUT [10]
#   VSWITCH_OVS_VSWITCHD [/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk]
#   VSWITCH_OVS_SCHEMA [/usr/share/openvswitch/vswitch.ovsschema]
# stdout: one JSON line. Diagnostics: stderr.
set -euo pipefail

LAB_RUN="${LAB_RUN_DIR:-/run/vhost-perf-lab}"
PREFIX="${VSWITCH_PREFIX:-vpl-ovs}"
RUN_DIR="${VSWITCH_RUN_DIR:-${LAB_RUN}/${PREFIX}}"
BRIDGE="${VSWITCH_BRIDGE:-vplbr0}"
MAIN_CORE="${VSWITCH_MAIN_CORE:-0}"
WORKER_CORES="${VSWITCH_WORKER_CORES:-1}"
NIC_PORTS_CSV="${VSWITCH_NIC_PORTS:-af_packet:ovs0,af_packet:ovs1}"
VHOST_SOCKETS_CSV="${VSWITCH_VHOST_SOCKETS:-none}"
RX_QUEUES="${VSWITCH_RX_QUEUES:-1}"
MEM_MB="${VSWITCH_MEM_MB:-512}"
HUGE_DIR="${VSWITCH_HUGE_DIR:-}"
START_TIMEOUT="${VSWITCH_START_TIMEOUT:-60}"
STOP_TIMEOUT="${VSWITCH_STOP_TIMEOUT:-10}"
VSWITCHD="${VSWITCH_OVS_VSWITCHD:-/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk}"
SCHEMA="${VSWITCH_OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}"
DPDK_RUNTIME="/var/run/dpdk/${PREFIX}"

DB="${RUN_DIR}/conf.db"
DB_SOCK="${RUN_DIR}/db.sock"
# the OVS tools find their control sockets and pidfiles here, never in /var/run/openvswitch
export OVS_RUNDIR="$RUN_DIR" OVS_LOGDIR="$RUN_DIR" OVS_DBDIR="$RUN_DIR"

# shellcheck source=scripts/lib/ovs-common.sh
. "${VSWITCH_OVS_LIB:-$(dirname "${BASH_SOURCE[0]}")/lib/ovs-common.sh}"

note() { printf 'vswitch-ovs: %s\n' "$*" >&2; }
UNDO=0
die() {
  printf 'vswitch-ovs: ERROR: %s\n' "$*" >&2
  if [[ "$UNDO" == 1 && "$BASH_SUBSHELL" == 0 ]]; then
    undo_start
    printf 'vswitch-ovs: ERROR: %s (start undone)\n' "$*" >&2
  fi
  exit 1
}
on_exit() {
  local rc=$?
  if [[ "$rc" != 0 && "$UNDO" == 1 && "$BASH_SUBSHELL" == 0 ]]; then
    note "start stopped unexpectedly (exit $rc): undoing it"
    undo_start
  fi
}
on_signal() { # signal-name exit-code
  trap - EXIT
  if [[ "$UNDO" == 1 ]]; then
    note "interrupted by SIG$1: undoing the start"
    undo_start
  fi
  note "ERROR: interrupted by SIG$1"
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

validate() {
  [[ "$PREFIX" =~ ^[A-Za-z0-9_-]{1,48}$ ]] || die "bad VSWITCH_PREFIX '$PREFIX'"
  [[ "$RUN_DIR" =~ ^/[A-Za-z0-9_./-]+$ && "$RUN_DIR" != *..* ]] || die "bad VSWITCH_RUN_DIR '$RUN_DIR'"
  # the netdev bridge has a kernel tap of its name: at most 15 characters
  [[ "$BRIDGE" =~ ^[a-z][a-z0-9_-]{0,14}$ ]] || die "bad VSWITCH_BRIDGE '$BRIDGE'"
  is_uint "$MAIN_CORE" || die "bad VSWITCH_MAIN_CORE '$MAIN_CORE'"
  [[ "$WORKER_CORES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "bad VSWITCH_WORKER_CORES '$WORKER_CORES'"
  local v
  for v in "$RX_QUEUES" "$MEM_MB" "$START_TIMEOUT" "$STOP_TIMEOUT"; do
    is_uint "$v" || die "expected a whole number, got '$v'"
  done
  [[ -z "$HUGE_DIR" || "$HUGE_DIR" =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad VSWITCH_HUGE_DIR '$HUGE_DIR'"
  IFS=',' read -r -a WORKERS <<<"$WORKER_CORES"
  for v in "${WORKERS[@]}"; do
    [[ "$v" != "$MAIN_CORE" ]] || die "worker core $v is also the main core"
  done
  IFS=',' read -r -a NIC_PORTS <<<"$NIC_PORTS_CSV"
  ((${#NIC_PORTS[@]} >= 1)) || die "VSWITCH_NIC_PORTS is empty"
  for v in "${NIC_PORTS[@]}"; do
    nic_devargs "$v" >/dev/null || die "bad NIC port '$v' (af_packet:<ifname> or pci:<dddd:bb:dd.f>)"
  done
  if [[ "$VHOST_SOCKETS_CSV" == none ]]; then
    VHOST_SOCKETS=()
  else
    IFS=',' read -r -a VHOST_SOCKETS <<<"$VHOST_SOCKETS_CSV"
    local nv=${#VHOST_SOCKETS[@]}
    if ((${#NIC_PORTS[@]} == 2)); then
      ((nv >= 2 && nv % 2 == 0 && nv <= 64)) ||
        die "VSWITCH_VHOST_SOCKETS needs two sockets per VM (2, 4, ... 64: a chain between the 2 NIC ports), got ${nv}, or 'none'"
    else
      ((nv == ${#NIC_PORTS[@]})) ||
        die "VSWITCH_VHOST_SOCKETS needs one socket per NIC port (${#NIC_PORTS[@]}), or 'none'"
    fi
    for v in "${VHOST_SOCKETS[@]}"; do
      [[ "$v" =~ ^/[A-Za-z0-9_./-]+$ ]] || die "bad vhost socket path '$v'"
    done
  fi
}

vsctl() { ovs-vsctl --db="unix:${DB_SOCK}" --timeout=10 "$@"; }

# The pid in <pidfile> when that process is <binary> and was started on this run dir.
verified_pid() { # pidfile binary-name
  [[ -r "$1" ]] || return 1
  local pid
  pid="$(head -c 32 "$1" | tr -dc '0-9')"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  local cmdline
  cmdline="$(tr '\0' '\n' 2>/dev/null <"/proc/${pid}/cmdline" || true)"
  grep -q -- "$2" <<<"$cmdline" || return 1
  grep -qF -- "${RUN_DIR}/" <<<"$cmdline" || return 1
  printf '%s' "$pid"
}
is_tap() { [[ -e "/sys/class/net/$1/tun_flags" ]]; }
# another ovs-vswitchd on this host (its netdev datapath shares the ovs-netdev tap)
other_switchd_running() {
  local p
  for p in $(pgrep -x 'ovs-vswitchd' || true) $(pgrep -f '^[^ ]*ovs-vswitchd-dpdk' || true); do
    alive "$p" && ! grep -qF -- "${RUN_DIR}/" "/proc/$p/cmdline" 2>/dev/null && return 0
  done
  return 1
}
db_pid() { verified_pid "${RUN_DIR}/ovsdb-server.pid" ovsdb-server; }
switchd_pid() { verified_pid "${RUN_DIR}/ovs-vswitchd.pid" ovs-vswitchd; }

status_json() { # action [extra-json-members]
  local action="$1" extra="${2:-}" dbp swp running=false pmds="[]" tids="" ifaces="null"
  dbp="$(db_pid || echo null)"
  swp="$(switchd_pid || echo null)"
  if [[ "$dbp" != null && "$swp" != null ]]; then
    running=true
    pmds="$(pmd_threads_json "$swp")"
    tids="$(grep -o '"tid":[0-9]*' <<<"$pmds" | cut -d: -f2 | paste -sd, -)"
    ifaces="$(vsctl --format=json --data=json --columns=name,type,ofport,error,statistics,status list Interface 2>/dev/null || echo null)"
  fi
  local pids="" p
  for p in "$swp" "$dbp"; do [[ "$p" == null ]] || pids+="${pids:+,}$p"; done
  printf '{"kind":"ovs-dpdk","action":%s,"prefix":%s,"running":%s,"pid":%s,"pids":[%s],' \
    "$(json_str "$action")" "$(json_str "$PREFIX")" "$running" "$swp" "$pids"
  printf '"runDir":%s,"bridge":%s,"mainCore":%s,"workerCores":[%s],"pmdThreads":%s,"workerTids":[%s],' \
    "$(json_str "$RUN_DIR")" "$(json_str "$BRIDGE")" "$MAIN_CORE" "$WORKER_CORES" "$pmds" "$tids"
  printf '"interfaces":%s%s}\n' "$ifaces" "$extra"
}

check_prereqs() {
  [[ "$(id -u)" == 0 ]] || die "start needs root"
  [[ -x "$VSWITCHD" ]] || die "$VSWITCHD not found (Debian: apt-get install openvswitch-switch-dpdk)"
  "$VSWITCHD" --version 2>/dev/null | grep -q '^DPDK' || die "$VSWITCHD is not built with DPDK"
  local t
  for t in ovsdb-server ovsdb-tool ovs-vsctl ovs-ofctl ovs-appctl taskset; do
    command -v "$t" >/dev/null || die "$t not found (Debian: openvswitch-switch, util-linux)"
  done
  [[ -r "$SCHEMA" ]] || die "OVS schema $SCHEMA not found"
  local n
  for n in "${NIC_PORTS[@]}"; do
    if [[ "$n" == af_packet:* && ! -e "/sys/class/net/${n#af_packet:}" ]]; then
      die "interface ${n#af_packet:} does not exist (run tg-netns.sh setup first)"
    fi
  done
  if [[ -n "$HUGE_DIR" ]]; then
    [[ "$(stat -f -c %T -- "$HUGE_DIR" 2>/dev/null)" == hugetlbfs ]] ||
      die "VSWITCH_HUGE_DIR $HUGE_DIR is not a hugetlbfs mount"
    local size_kb free need
    size_kb=$(($(stat -f -c %S -- "$HUGE_DIR") / 1024))
    free="$(cat "/sys/kernel/mm/hugepages/hugepages-${size_kb}kB/free_hugepages")"
    need=$(((MEM_MB * 1024 + size_kb - 1) / size_kb))
    ((free >= need)) || die "need ${need} free hugepages of ${size_kb} kB for ${MEM_MB} MB, ${free} free"
  fi
}

# Stop a verified daemon: its own exit command first (--cleanup: ovs-vswitchd deletes its
# datapath and ports), then SIGTERM, then SIGKILL.
stop_daemon() { # pid ctl-socket timeout [exit-args]
  local pid="$1" deadline
  # shellcheck disable=SC2086 # exit-args: a fixed word list
  ovs-appctl -t "$2" --timeout="$3" exit ${4:-} >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + $3))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  ! alive "$pid"
}

# What a start leaves, removed: daemons (verified), run dir, DPDK files of the prefix.
teardown() { # timeout
  local pid how=not-running
  if pid="$(switchd_pid)"; then
    how="exit"
    stop_daemon "$pid" "${RUN_DIR}/ovs-vswitchd.ctl" "$1" --cleanup || die "ovs-vswitchd pid $pid survived SIGKILL"
  fi
  if pid="$(db_pid)"; then
    [[ "$how" != not-running ]] || how="exit"
    stop_daemon "$pid" "${RUN_DIR}/ovsdb-server.ctl" "$1" || die "ovsdb-server pid $pid survived SIGKILL"
  fi
  STOPPED_BY="$how"
  # the netdev datapath's kernel taps outlive a killed ovs-vswitchd (and, persistent, even an
  # exit): the bridge's (its name is ours) and ovs-netdev when this start created it
  REMOVED_TAPS=""
  if is_tap "$BRIDGE"; then ip link del "$BRIDGE" && REMOVED_TAPS+="${BRIDGE} "; fi
  if [[ -e "${RUN_DIR}/created-ovs-netdev" ]] && is_tap ovs-netdev && ! other_switchd_running; then
    ip link del ovs-netdev && REMOVED_TAPS+="ovs-netdev "
  fi
  REMOVED_HUGEFILES="$(cleanup_dpdk_files "$PREFIX")"
  if [[ -d "$RUN_DIR" ]]; then rm -rf -- "$RUN_DIR"; fi
}

undo_start() {
  trap '' TERM INT
  UNDO=0
  local f
  for f in ovs-vswitchd ovsdb-server; do
    if [[ -s "${RUN_DIR}/${f}.log" ]]; then
      note "last lines of ${f}.log:"
      tail -n 15 -- "${RUN_DIR}/${f}.log" | sed 's/^/    /' >&2 || true
    fi
  done
  teardown 2 || true
  note "start undone: daemons stopped, ${RUN_DIR} and the DPDK files of ${PREFIX} removed"
}

wait_for() { # description command...
  local what="$1" deadline=$((SECONDS + START_TIMEOUT))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out after ${START_TIMEOUT}s waiting for ${what}"
    sleep 0.3
  done
}
dpdk_initialized() { [[ "$(vsctl get Open_vSwitch . dpdk_initialized 2>/dev/null)" == true ]]; }
pmds_running() { [[ "$(pmd_threads_json "$(switchd_pid)")" != "[]" ]]; }
iface_ok() { # name: an OpenFlow port number and no error
  local of err
  of="$(vsctl get Interface "$1" ofport 2>/dev/null || echo -1)"
  err="$(vsctl get Interface "$1" error 2>/dev/null || echo '"?"')"
  [[ "$of" =~ ^[0-9]+$ && "$of" != 0 && ("$err" == "[]" || "$err" == '""') ]]
}

start() {
  if [[ -n "$(db_pid || true)" && -n "$(switchd_pid || true)" ]]; then
    status_json start ',"alreadyRunning":true'
    return 0
  fi
  check_prereqs
  # found before changing anything: a run dir or DPDK files left by a dead earlier run
  local leftover=false
  if [[ -e "$RUN_DIR" || -d "$DPDK_RUNTIME" ]]; then leftover=true; fi
  UNDO=1
  if [[ "$leftover" == true ]]; then
    note "removing what a dead earlier run of ${PREFIX} left (${RUN_DIR}, ${DPDK_RUNTIME})"
    teardown 2
  fi
  mkdir -p -- "$RUN_DIR"
  chmod 0750 -- "$RUN_DIR"
  # found before: the shared ovs-netdev tap (removed at stop only when this start made it)
  if ! is_tap ovs-netdev; then : >"${RUN_DIR}/created-ovs-netdev"; fi
  local s
  for s in "${VHOST_SOCKETS[@]}"; do mkdir -p -- "$(dirname -- "$s")"; done
  ovsdb-tool create "$DB" "$SCHEMA"
  taskset -c "$MAIN_CORE" ovsdb-server "$DB" --remote="punix:${DB_SOCK}" \
    --pidfile="${RUN_DIR}/ovsdb-server.pid" --unixctl="${RUN_DIR}/ovsdb-server.ctl" \
    --log-file="${RUN_DIR}/ovsdb-server.log" -vconsole:off --detach --no-chdir
  vsctl --no-wait init
  # socket-mem preallocates, socket-limit caps: without the cap OVS grows its mbuf pools past
  # MEM_MB (measured here: ~1.2 GiB for 4 ports) and takes the VM's hugepages
  local extra="--file-prefix=${PREFIX}"
  [[ -z "$HUGE_DIR" ]] || extra+=" --huge-dir=${HUGE_DIR}"
  local n pci=""
  for n in "${NIC_PORTS[@]}"; do [[ "$n" != pci:* ]] || pci+=" -a ${n#pci:}"; done
  if [[ -z "$pci" ]]; then extra+=" --no-pci"; else extra+="$pci"; fi
  vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    "other_config:dpdk-lcore-mask=$(core_mask "$MAIN_CORE")" \
    "other_config:pmd-cpu-mask=$(core_mask "$WORKER_CORES")" \
    "other_config:dpdk-socket-mem=${MEM_MB}" "other_config:dpdk-socket-limit=${MEM_MB}" \
    "other_config:dpdk-extra=\"${extra}\""
  taskset -c "$MAIN_CORE" "$VSWITCHD" "unix:${DB_SOCK}" \
    --pidfile="${RUN_DIR}/ovs-vswitchd.pid" --unixctl="${RUN_DIR}/ovs-vswitchd.ctl" \
    --log-file="${RUN_DIR}/ovs-vswitchd.log" -vconsole:off --detach --no-chdir
  wait_for "DPDK init in ovs-vswitchd" dpdk_initialized
  vsctl --may-exist add-br "$BRIDGE" -- set Bridge "$BRIDGE" datapath_type=netdev fail_mode=secure
  local i nic vhu
  for i in "${!NIC_PORTS[@]}"; do
    nic="nic${i}"
    vsctl --may-exist add-port "$BRIDGE" "$nic" -- set Interface "$nic" type=dpdk \
      "options:dpdk-devargs=\"$(nic_devargs "${NIC_PORTS[$i]}" "$i")\"" "options:n_rxq=${RX_QUEUES}" \
      "ofport_request=$((2 * i + 1))"
  done
  for i in "${!VHOST_SOCKETS[@]}"; do
    vhu="vhu${i}"
    vsctl --may-exist add-port "$BRIDGE" "$vhu" -- set Interface "$vhu" type=dpdkvhostuserclient \
      "options:vhost-server-path=\"${VHOST_SOCKETS[$i]}\"" "ofport_request=$((2 * i + 2))"
  done
  for i in "${!NIC_PORTS[@]}"; do wait_for "port nic${i}" iface_ok "nic${i}"; done
  for i in "${!VHOST_SOCKETS[@]}"; do wait_for "port vhu${i}" iface_ok "vhu${i}"; done
  ovs-ofctl del-flows "$BRIDGE"
  local flows
  flows="$(flow_rules "${#NIC_PORTS[@]}" "${#VHOST_SOCKETS[@]}")"
  ovs-ofctl add-flows "$BRIDGE" - <<<"$flows"
  wait_for "PMD threads" pmds_running
  status_json start ",\"alreadyRunning\":false,\"removedLeftovers\":${leftover}"
  UNDO=0
}

stop() {
  teardown "$STOP_TIMEOUT"
  status_json stop ",\"stoppedBy\":$(json_str "$STOPPED_BY"),\"removedTaps\":$(json_str "${REMOVED_TAPS% }"),\"removedHugepageFiles\":${REMOVED_HUGEFILES}"
}

main() {
  local cmd="${1:-}"
  validate
  case "$cmd" in
  start) start ;;
  stop) stop ;;
  status)
    status_json status
    [[ -n "$(db_pid || true)" && -n "$(switchd_pid || true)" ]] || exit 3
    ;;
  *) die "usage: vswitch-ovs.sh start|stop|status" ;;
  esac
}

main "$@"
