#!/usr/bin/env bash
# VPP as the lab's vswitch on a DUT (issue 11; DESIGN.md §6): install, start, wire, stop.
#
#   vswitch-vpp.sh install         vpp, vpp-plugin-core, vpp-plugin-dpdk at VPP_VERSION from FD.io's
#                                  apt repository (VPP_INSTALL=repository: key checked by
#                                  fingerprint, own keyring and source list), or checked when
#                                  VPP_INSTALL=preinstalled (scripts/lib/vpp-install.sh)
#   vswitch-vpp.sh uninstall       purges only what this stack installed; list and keyring removed
#   vswitch-vpp.sh install-status  exit 0 installed as asked, 3 not (the drift probe)
#   vswitch-vpp.sh start           writes VPP_DIR/startup.conf (the config is given: TypeScript
#                                  generates it), starts `vpp -c` detached (setsid, nodaemon, log
#                                  in VPP_DIR), waits until its CLI socket answers `show version`
#                                  (bounded, with progress) with VPP_VERSION, then runs the wiring
#                                  (one vppctl command a line, each answer checked), reads worker
#                                  TIDs (show threads) and vhost-user rings (show vhost-user).
#                                  Idempotent while the recorded VPP runs with the same config.
#                                  /etc/vpp/startup.conf is never read nor written.
#   vswitch-vpp.sh stop            TERM to the recorded VPP (verified by its start time), KILL after
#                                  VPP_STOP_GRACE s; removes the files it made (startup.conf,
#                                  sockets, log unless VPP_KEEP_LOG=1, API shared memory of its
#                                  prefix) and VPP_DIR when it made it
#   vswitch-vpp.sh status          exit 0 the recorded VPP runs and answers (JSON with worker TIDs
#                                  and rings), 3 gone
# A failed or interrupted (TERM/INT) install or start undoes what it did.
#
# Environment: VPP_VERSION (required, e.g. 24.10-release); VPP_INSTALL (preinstalled|repository),
#   VPP_REPO_URL, VPP_REPO_SUITE, VPP_REPO_COMPONENT, VPP_KEY_URL, VPP_KEY_FPR (repository);
#   VPP_DIR (the vswitch's own dir under LAB_RUN_DIR); VPP_STARTUP_B64 (startup.conf);
#   VPP_WIRING_B64 ("<expected answer>\t<command>" lines); VPP_API_PREFIX (its api-segment prefix);
#   VPP_READY_TIMEOUT (60 s); VPP_STOP_GRACE (10 s); VPP_KEEP_LOG (0); VPP_SHM_DIR (/dev/shm);
#   tests only: VPP_APT_ETC (/etc/apt), VPP_POLICY_RC (/usr/sbin/policy-rc.d), VPP_PROC_SYS
#   (/proc/sys); LAB_STACK, LAB_STATE_DIR, LAB_RUN_DIR (set by step.sh). `vpp`, `vppctl`,
#   `dpkg-query`, `apt-get`, `curl`, `gpg` from PATH.
# Output: progress on stderr, ONE JSON line on stdout:
#   {"action":"start","kind":"vpp","already":false,"pid":N,"workerTids":[..],"rings":[{"socket":..,
#    "interface":..,"rxSize":N,"txSize":N}],"cliSocket":..,...}
# Exit: 0 done, 1 failed (undone), 3 status gone, 130/143 interrupted (undone).
set -euo pipefail

t0=$SECONDS
say() { printf '[vpp %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  say "ERROR: $1"
  [ $# -lt 2 ] || say "fix: $2"
  exit 1
}
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/ }
  printf '"%s"' "$s"
}

stack=${LAB_STACK:-}
[[ $stack =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB_STACK '$stack' is not a stack name" "run it through scripts/lib/step.sh"
for v in LAB_STATE_DIR LAB_RUN_DIR; do
  [[ ${!v:-} == /* && ${!v} != *..* ]] || die "$v '${!v:-}' is not an absolute path"
done
[[ ${VPP_VERSION:-} =~ ^[0-9]{2}\.[0-9]{2}(\.[0-9]+)?(-[A-Za-z0-9.~+]+)*$ ]] ||
  die "VPP_VERSION '${VPP_VERSION:-}' is not a VPP package version like 24.10-release"
rec=$LAB_STATE_DIR/vpp
# shellcheck source=scripts/lib/vpp-install.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/vpp-install.sh"

TMPFILES=()
INSTALLING=0
STARTING=0
on_exit() {
  local rc=$?
  rm -f -- "${TMPFILES[@]}" 2>/dev/null || true
  [ "$rc" != 0 ] || return 0
  if [ "$INSTALLING" = 1 ]; then say "install failed: undoing it"; undo_install; fi
  if [ "$STARTING" = 1 ]; then say "start failed: stopping what it started"; do_stop >/dev/null; fi
  rmdir -- "$rec" 2>/dev/null || true
}
on_signal() {
  say "interrupted by SIG$1"
  exit "$2"
}
trap on_exit EXIT
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# --- the daemon ------------------------------------------------------------------------------
dir_checked() {
  local d=${VPP_DIR:-}
  [[ $d == "$LAB_RUN_DIR"/* && $d != *..* && $d =~ ^/[A-Za-z0-9_./-]+$ ]] ||
    die "VPP_DIR '$d' is not a directory under the stack's run dir $LAB_RUN_DIR"
  printf '%s\n' "${d%/}"
}
start_time() { # field 22 of /proc/<pid>/stat
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086 # word splitting wanted
  set -- $s
  printf '%s\n' "${20}"
}
read_start() { # the same as start_time, into REPLY_START, without a subshell
  local s f
  REPLY_START=""
  { IFS= read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  read -r -a f <<<"$s"
  REPLY_START=${f[19]:-}
}
rget() { sed -n "s/^$1=//p" -- "$rec/server" 2>/dev/null | head -n 1 || true; }
running() { # the recorded VPP is the same process still
  local pid st
  pid=$(rget pid)
  st=$(rget start)
  [ -n "$pid" ] && [ -n "$st" ] && [ "$(start_time "$pid" || true)" = "$st" ]
}
alive() { kill -0 "$1" 2>/dev/null && [ "$(start_time "$1" || true)" = "$2" ]; }
cli() { vppctl -s "$SOCK" "$@" 2>&1; }
answers() { cli show version 2>/dev/null | grep -q '^vpp v'; }

# worker TIDs as a JSON list (show threads: LWP of every vpp_wk_N row)
worker_tids_json() {
  local out
  out=$(cli show threads) || return 1
  awk '$2 ~ /^vpp_wk_[0-9]+$/ && $4 ~ /^[0-9]+$/ {printf "%s%s", (n++ ? "," : ""), $4} END {}' <<<"$out" |
    sed 's/^/[/;s/$/]/'
}
# vhost-user rings as a JSON list (show vhost-user: socket and the largest enabled RX/TX qsz)
rings_json() {
  local out
  out=$(cli show vhost-user) || return 1
  awk '
    function flush() {
      if (ifname == "") return
      printf "%s{\"interface\":\"%s\",\"socket\":\"%s\",\"connected\":%s", (n++ ? "," : ""), ifname, sock, (regions > 0 && rx + tx > 0) ? "true" : "false"
      if (rx > 0) printf ",\"rxSize\":%d", rx
      if (tx > 0) printf ",\"txSize\":%d", tx
      printf "}"
    }
    /^Interface: / { flush(); ifname = $2; sock = ""; regions = 0; rx = 0; tx = 0; dir = ""; on = 0 }
    /^ *socket filename / { sock = $3 }
    /^ *Memory regions \(total / { r = $4; sub(/\)/, "", r); regions = r + 0 }
    /^ *Virtqueue [0-9]+/ { q = $2 + 0; dir = (q % 2) ? "RX" : "TX"; on = ($0 !~ /disabled/); if ($0 ~ /\(RX/) dir = "RX"; if ($0 ~ /\(TX/) dir = "TX" }
    /^ *qsz [0-9]+ / { if (on && dir == "RX" && $2 + 0 > rx) rx = $2 + 0; if (on && dir == "TX" && $2 + 0 > tx) tx = $2 + 0 }
    END { flush() }
  ' <<<"$out" | sed 's/^/[/;s/$/]/'
}

do_stop() {
  local pid st grace=${VPP_STOP_GRACE:-10} i stopped=false d prefix
  trap '' TERM INT
  d=$(rget dir)
  if [ -f "$rec/server" ]; then
    pid=$(rget pid)
    st=$(rget start)
    if [ -n "$pid" ] && [ "$(rget boot)" = "$(cat /proc/sys/kernel/random/boot_id)" ] && alive "$pid" "$st"; then
      say "stopping VPP (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < grace * 5; i++)); do
        alive "$pid" "$st" || break
        sleep 0.2
      done
      if alive "$pid" "$st"; then
        say "still running after ${grace}s: KILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do alive "$pid" "$st" || break; sleep 0.1; done
      fi
      stopped=true
    fi
    if [ -n "$d" ]; then
      rm -f -- "$d/startup.conf" "$d/cli.sock" "$d/api.sock" "$d/stats.sock"
      [ "${VPP_KEEP_LOG:-0}" = 1 ] || rm -f -- "$d/vpp.log"
      [ "$(rget dir_made)" != 1 ] || rmdir -- "$d" 2>/dev/null || say "$d not empty: left"
    fi
    prefix=$(rget prefix)
    if [[ $prefix =~ ^vpl-[A-Za-z0-9_-]+$ ]]; then
      rm -f -- "${VPP_SHM_DIR:-/dev/shm}/$prefix"-* 2>/dev/null || true
    fi
    rm -f -- "$rec/server" "$rec/startup.conf"
  fi
  rmdir -- "$rec" 2>/dev/null || true
  printf '{"action":"stop","kind":"vpp","stopped":%s,"dir":%s}\n' "$stopped" "$(json_str "${d:-}")"
}

report() { # action already
  printf '{"action":"%s","kind":"vpp","already":%s,"pid":%s,"startTime":%s,"workerTids":%s,"rings":%s,"cliSocket":%s,"startupConf":%s,"log":%s,"version":%s,"seconds":%d}\n' \
    "$1" "$2" "$(rget pid)" "$(json_str "$(rget start)")" "$(worker_tids_json)" "$(rings_json)" \
    "$(json_str "$SOCK")" "$(json_str "$DIR/startup.conf")" "$(json_str "$DIR/vpp.log")" \
    "$(json_str "$VPP_VERSION")" "$((SECONDS - t0))"
}

wire() { # run every "<expect>\t<command>" line of $1, each answer checked
  local line expect cmd out n=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    [[ $line == *$'\t'* ]] || die "wiring line '$line' has no tab (expected answer, tab, command)"
    expect=${line%%$'\t'*}
    cmd=${line#*$'\t'}
    [[ $cmd =~ ^[A-Za-z0-9\ _./:@%+=,-]+$ ]] || die "wiring command '$cmd' has characters that are not allowed"
    n=$((n + 1))
    say "vppctl $cmd"
    out=$(cli "$cmd" </dev/null) || die "vppctl '$cmd' failed: $out"
    out=$(printf '%s' "$out" | sed -e 's/[[:space:]]*$//' -e '/^$/d')
    [ "$out" = "$expect" ] || die "vppctl '$cmd' answered '$out', expected '${expect}'" \
      "check the DUT's VPP (log: $DIR/vpp.log); the lab's config: vhost-perf-lab:vswitch, vms.sockets"
  done <"$1"
  say "wired: $n commands"
}

do_start() {
  local want wiring pid st deadline next problem version made=0 pending boot
  DIR=$(dir_checked)
  SOCK=$DIR/cli.sock
  problem=$(install_problem) || die "$problem" "run the install step first, or set $INSTALL_HINT"
  mkdir -p -- "$rec"
  want=$(mktemp -- "$rec/.conf.XXXXXX")
  wiring=$(mktemp -- "$rec/.wiring.XXXXXX")
  TMPFILES+=("$want" "$wiring")
  printf '%s' "${VPP_STARTUP_B64:?VPP_STARTUP_B64 (startup.conf) is required}" | base64 -d >"$want" ||
    die "VPP_STARTUP_B64 is not base64"
  printf '%s' "${VPP_WIRING_B64:-}" | base64 -d >"$wiring" || die "VPP_WIRING_B64 is not base64"
  grep -q "cli-listen $SOCK\$" -- "$want" || die "the startup.conf given does not put the CLI on $SOCK"
  if [ -f "$rec/server" ]; then
    if running && cmp -s -- "$want" "$rec/startup.conf" && answers; then
      say "VPP already runs (pid $(rget pid)) with this config"
      report start true
      return 0
    fi
    say "the recorded VPP is gone or its config changed: starting it again"
    do_stop >/dev/null
    mkdir -p -- "$rec"
  fi
  [ ! -S "$SOCK" ] || ! answers || die "a VPP already answers on $SOCK" "stop it first"
  rm -f -- "$SOCK" # a dead VPP's socket file: nobody answers on it
  STARTING=1
  if [ ! -d "$DIR" ]; then
    mkdir -p -- "$DIR"
    made=1
  fi
  printf 'dir=%s\ndir_made=%s\nprefix=%s\n' "$DIR" "$made" "${VPP_API_PREFIX:-}" >"$rec/server"
  cp -- "$want" "$rec/startup.conf"
  install -m 0644 -- "$want" "$DIR/startup.conf"
  say "starting vpp -c $DIR/startup.conf (log $DIR/vpp.log)"
  # a TERM/INT between the launch and the record would leave VPP unknown to the undo: held until recorded
  pending=""
  trap 'pending=TERM' TERM
  trap 'pending=INT' INT
  # (no command substitution here: a subshell would die of the signal and record nothing)
  (exec setsid vpp -c "$DIR/startup.conf" </dev/null >>"$DIR/vpp.log" 2>&1) &
  pid=$!
  read_start "$pid" || true
  st=$REPLY_START
  IFS= read -r boot </proc/sys/kernel/random/boot_id
  printf 'pid=%s\nstart=%s\nboot=%s\n' "$pid" "$st" "$boot" >>"$rec/server"
  trap 'on_signal TERM 143' TERM
  trap 'on_signal INT 130' INT
  case "$pending" in
    TERM) on_signal TERM 143 ;;
    INT) on_signal INT 130 ;;
  esac
  deadline=$((SECONDS + ${VPP_READY_TIMEOUT:-60}))
  next=$((SECONDS + 5))
  until answers; do
    if ! alive "$pid" "$st"; then
      tail -n 20 -- "$DIR/vpp.log" >&2 || true
      die "VPP exited before its CLI answered (log above, $DIR/vpp.log)" \
        "check the DUT's hugepages, the NIC binding and the startup.conf (vhost-perf-lab:vswitch)"
    fi
    ((SECONDS < deadline)) || die "VPP's CLI $SOCK did not answer within ${VPP_READY_TIMEOUT:-60}s (log: $DIR/vpp.log)"
    if ((SECONDS >= next)); then
      say "waiting for VPP's CLI on $SOCK ($((deadline - SECONDS))s left)"
      next=$((SECONDS + 5))
    fi
    sleep 0.2
  done
  version=$(cli show version | sed -n 's/^vpp v\([^ ]*\) built by .*/\1/p' | head -n 1)
  [ "$version" = "$VPP_VERSION" ] || die "the running VPP says version '$version', the config asks for $VPP_VERSION" \
    "install VPP $VPP_VERSION (the install step), or set vhost-perf-lab:vswitch.options.version"
  say "VPP $version answers on $SOCK"
  wire "$wiring"
  worker_tids_json | grep -q '[0-9]' || die "VPP reports no worker threads (show threads: no vpp_wk_*)" \
    "check cpu { corelist-workers } (hosts[].cpus.vswitch)"
  STARTING=0
  report start false
}

case "${1:-}" in
  install)
    do_install
    printf '{"action":"install","kind":"vpp","version":%s,"created":%s}\n' "$(json_str "$VPP_VERSION")" \
      "$([ "$(sed -n 's/^created=//p' -- "$rec/install")" = 1 ] && echo true || echo false)"
    ;;
  uninstall)
    do_uninstall
    rmdir -- "$rec" 2>/dev/null || true
    printf '{"action":"uninstall","kind":"vpp","version":%s}\n' "$(json_str "$VPP_VERSION")"
    ;;
  install-status)
    problem=$(install_problem) || { printf '{"installed":false,"problem":%s}\n' "$(json_str "$problem")"; exit 3; }
    printf '{"installed":true}\n'
    ;;
  start) do_start ;;
  stop) do_stop ;;
  status)
    DIR=$(dir_checked)
    SOCK=$DIR/cli.sock
    if [ -f "$rec/server" ] && running && answers; then
      report status true
    else
      printf '{"running":false}\n'
      exit 3
    fi
    ;;
  *) die "usage: vswitch-vpp.sh install|uninstall|install-status|start|stop|status" ;;
esac
