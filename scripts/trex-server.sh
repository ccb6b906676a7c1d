#!/usr/bin/env bash
# The TRex server on the TG host (issue 10; DESIGN.md §6): install, config, run, stop.
#
#   trex-server.sh install         TRex from its release tarball (TREX_TARBALL_URL + _SHA256:
#                                  downloaded with curl into TREX_CACHE_DIR, sha256 verified,
#                                  unpacked beside TREX_INSTALL_DIR and moved there), or an
#                                  existing TREX_INSTALL_DIR checked (t-rex-64, TREX_VERSION)
#   trex-server.sh uninstall       removes only an install this stack made (the cache stays)
#   trex-server.sh install-status  exit 0 installed as asked, 3 not (the drift probe)
#   trex-server.sh start           writes TREX_CFG (the original kept in the step's records),
#                                  starts `t-rex-64 -i` detached in its own process group from
#                                  its install dir (log in $LAB_RUN_DIR/trex.log), ready when the
#                                  RPC port answers; idempotent while the recorded server runs
#   trex-server.sh stop            TERM to the server's group, KILL after TREX_STOP_GRACE s;
#                                  TREX_CFG put back as it was (or removed)
#   trex-server.sh status          exit 0 the recorded server runs and answers, 3 gone
# A failed or interrupted (TERM/INT) install or start undoes what it did.
#
# Environment: TREX_INSTALL_DIR, TREX_VERSION (required); TREX_TARBALL_URL, TREX_TARBALL_SHA256;
#   TREX_CACHE_DIR (/var/cache/vhost-perf-lab/trex); TREX_CFG (/etc/trex_cfg.yaml); the config's
#   text: TREX_CFG_SRC (a file) or TREX_CFG_B64; TREX_PREFIX (vpl-<stack>); TREX_MBUF_FACTOR (32);
#   TREX_SOFTWARE (1: --software); TREX_RPC_PORT (4501; the readiness check and the JSON line:
#   TRex itself takes its ports from the config); TREX_ASYNC_PORT (RPC - 1); TREX_READY_TIMEOUT (120 s);
#   TREX_STOP_GRACE (10 s); LAB_STACK, LAB_STATE_DIR, LAB_RUN_DIR (set by step.sh).
# Output: progress on stderr, ONE JSON line on stdout. Exit: 0 done, 1 failed (undone), 3 status
#   gone, 130/143 interrupted (undone).
set -euo pipefail

t0=$SECONDS
say() { printf '[trex %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
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

stack=${LAB_STACK:-}
[[ $stack =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB_STACK '$stack' is not a stack name" "run it through scripts/lib/step.sh"
for v in LAB_STATE_DIR LAB_RUN_DIR TREX_INSTALL_DIR; do
  [[ ${!v:-} == /* && ${!v} != *..* ]] || die "$v '${!v:-}' is not an absolute path"
done
[[ ${TREX_VERSION:-} =~ ^v?[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || die "TREX_VERSION '${TREX_VERSION:-}' is not a TRex version like 3.03"
TREX_CACHE_DIR=${TREX_CACHE_DIR:-/var/cache/vhost-perf-lab/trex}
CFG=${TREX_CFG:-/etc/trex_cfg.yaml}
PREFIX=${TREX_PREFIX:-vpl-$stack}
MBUF=${TREX_MBUF_FACTOR:-32}
PORT=${TREX_RPC_PORT:-4501}
ASYNC=${TREX_ASYNC_PORT:-$((PORT - 1))}
[[ $CFG == /* ]] || die "TREX_CFG '$CFG' is not an absolute path"
[[ $PREFIX =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$ ]] || die "TREX_PREFIX '$PREFIX' is not a plain name"
[[ $MBUF =~ ^[0-9]{1,3}$ && $PORT =~ ^[0-9]{1,5}$ && $ASYNC =~ ^[0-9]{1,5}$ ]] ||
  die "TREX_MBUF_FACTOR '$MBUF', TREX_RPC_PORT '$PORT', TREX_ASYNC_PORT '$ASYNC': not all numbers"
rec=$LAB_STATE_DIR/trex
log=$LAB_RUN_DIR/trex.log
# shellcheck source=scripts/lib/trex-install.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/trex-install.sh"

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

# --- the server ----------------------------------------------------------------------------
start_time() { # field 22 of /proc/<pid>/stat
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086 # word splitting wanted
  set -- $s
  printf '%s\n' "${20}"
}
rget() { sed -n "s/^$1=//p" -- "$rec/server" 2>/dev/null | head -n 1 || true; }
running() { # the recorded server is the same process still
  local pid st
  pid=$(rget pid)
  st=$(rget start)
  [ -n "$pid" ] && [ -n "$st" ] && [ "$(start_time "$pid" || true)" = "$st" ]
}
boot_id() { cat /proc/sys/kernel/random/boot_id; }
# shellcheck disable=SC2016 # expanded by the inner bash
answers() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$PORT" 2>/dev/null; }
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

do_stop() {
  local pgid grace=${TREX_STOP_GRACE:-10} i stopped=false restored=false had
  trap '' TERM INT
  if [ -f "$rec/server" ]; then
    pgid=$(rget pgid)
    # the group outlives a TRex that died (its children): still ours while this boot lasts
    if [ -n "$pgid" ] && [ "$(rget boot)" = "$(boot_id)" ] && group_alive "$pgid"; then
      say "stopping TRex (process group $pgid)"
      kill -TERM -- "-$pgid" 2>/dev/null || true
      for ((i = 0; i < grace * 5; i++)); do
        group_alive "$pgid" || break
        sleep 0.2
      done
      if group_alive "$pgid"; then
        say "still running after ${grace}s: KILL"
        kill -KILL -- "-$pgid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do group_alive "$pgid" || break; sleep 0.1; done
      fi
      stopped=true
    fi
    had=$(rget cfg_had)
    if [ "$had" = 1 ] && [ -f "$rec/cfg.orig" ]; then
      cp -p -- "$rec/cfg.orig" "$CFG.vpl-tmp" && mv -f -- "$CFG.vpl-tmp" "$CFG" && rm -f -- "$rec/cfg.orig"
      restored=true
      say "put the original $CFG back"
    elif [ "$had" = 0 ]; then
      rm -f -- "$CFG"
      say "removed $CFG (there was none before)"
    fi
    rm -f -- "$rec/server"
  fi
  rmdir -- "$rec" 2>/dev/null || true
  printf '{"action":"stop","stopped":%s,"cfgRestored":%s,"cfg":%s}\n' "$stopped" "$restored" "$(json_str "$CFG")"
}

cfg_text() { # the config to write, into $1
  if [ -n "${TREX_CFG_SRC:-}" ]; then
    cp -- "$TREX_CFG_SRC" "$1"
  elif [ -n "${TREX_CFG_B64:-}" ]; then
    printf '%s' "$TREX_CFG_B64" | base64 -d >"$1" || die "TREX_CFG_B64 is not base64"
  else
    die "no trex_cfg.yaml given (TREX_CFG_SRC or TREX_CFG_B64)"
  fi
  grep -q '^- version: 2' -- "$1" || die "the trex_cfg.yaml given is not a TRex version 2 config"
}

report_start() { # already
  printf '{"action":"start","already":%s,"pid":%s,"pgid":%s,"startTime":%s,"rpcPort":%s,"asyncPort":%s,"cfg":%s,"prefix":%s,"log":%s,"version":%s,"seconds":%d}\n' \
    "$1" "$(rget pid)" "$(rget pgid)" "$(json_str "$(rget start)")" "$PORT" "$ASYNC" "$(json_str "$CFG")" \
    "$(json_str "$PREFIX")" "$(json_str "$log")" "$(json_str "$TREX_VERSION")" "$((SECONDS - t0))"
}

do_start() {
  local bindir want pid problem deadline next sw=()
  problem=$(install_problem) || die "$problem" "run the install step first, or set $CFG_PATH_HINT"
  bindir=$(trex_bindir "$TREX_INSTALL_DIR")
  mkdir -p -- "$rec" "$LAB_RUN_DIR"
  want=$(mktemp -- "$rec/.cfg.XXXXXX")
  TMPFILES+=("$want")
  cfg_text "$want"
  if [ -f "$rec/server" ]; then
    if running && cmp -s -- "$want" "$CFG" && answers; then
      say "TRex already runs (pid $(rget pid)) with this config"
      report_start true
      return 0
    fi
    say "the recorded TRex is gone or its config changed: starting it again"
    do_stop >/dev/null
    mkdir -p -- "$rec"
  fi
  ! answers || die "TCP port $PORT already answers on this host (another TRex?)" "stop it, or give this stack other ZeroMQ ports"
  STARTING=1
  if [ -e "$CFG" ]; then
    cp -p -- "$CFG" "$rec/cfg.orig"
    printf 'cfg_had=1\n' >"$rec/server"
  else
    printf 'cfg_had=0\n' >"$rec/server"
  fi
  mkdir -p -- "$(dirname -- "$CFG")"
  install -m 0644 -- "$want" "$CFG.vpl-tmp"
  mv -f -- "$CFG.vpl-tmp" "$CFG"
  [ "${TREX_SOFTWARE:-0}" != 1 ] || sw=(--software)
  say "starting t-rex-64 -i --prefix $PREFIX --cfg $CFG (in $bindir, log $log)"
  (cd -- "$bindir" && exec setsid ./t-rex-64 -i --prefix "$PREFIX" --cfg "$CFG" --hdrh --no-scapy-server \
    --mbuf-factor "$MBUF" "${sw[@]}" </dev/null >>"$log" 2>&1) &
  pid=$!
  printf 'pid=%s\npgid=%s\nstart=%s\nboot=%s\n' "$pid" "$pid" "$(start_time "$pid" || true)" "$(boot_id)" >>"$rec/server"
  deadline=$((SECONDS + ${TREX_READY_TIMEOUT:-120}))
  next=$((SECONDS + 5))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 -- "$log" >&2 || true
      die "TRex exited before its RPC port $PORT answered (log above, $log)" "check the TG's hugepages, the NIC binding and $CFG"
    fi
    ((SECONDS < deadline)) || die "TRex's RPC port $PORT did not answer within ${TREX_READY_TIMEOUT:-120}s (log: $log)"
    if ((SECONDS >= next)); then
      say "waiting for TRex's RPC port $PORT ($((deadline - SECONDS))s left)"
      next=$((SECONDS + 5))
    fi
    sleep 0.2
  done
  STARTING=0
  say "TRex ready: RPC port $PORT answers"
  report_start false
}

case "${1:-}" in
  install)
    do_install
    printf '{"action":"install","dir":%s,"bindir":%s,"version":%s,"created":%s}\n' "$(json_str "$TREX_INSTALL_DIR")" \
      "$(json_str "$(trex_bindir "$TREX_INSTALL_DIR")")" "$(json_str "$TREX_VERSION")" \
      "$([ "$(sed -n 's/^created=//p' -- "$rec/install")" = 1 ] && echo true || echo false)"
    ;;
  uninstall)
    do_uninstall
    rmdir -- "$rec" 2>/dev/null || true
    printf '{"action":"uninstall","dir":%s}\n' "$(json_str "$TREX_INSTALL_DIR")"
    ;;
  install-status)
    problem=$(install_problem) || { printf '{"installed":false,"problem":%s}\n' "$(json_str "$problem")"; exit 3; }
    printf '{"installed":true}\n'
    ;;
  start) do_start ;;
  stop) do_stop ;;
  status)
    if [ -f "$rec/server" ] && running && answers; then
      printf '{"running":true,"pid":%s}\n' "$(rget pid)"
    else
      printf '{"running":false}\n'
      exit 3
    fi
    ;;
  *) die "usage: trex-server.sh install|uninstall|install-status|start|stop|status" ;;
esac
