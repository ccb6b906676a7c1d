#!/usr/bin/env bash
# The runner of every host step (components/shared/hostScript.ts). The command the provider runs
# only unpacks the step's bundle (first line of stdin) into a private directory and execs this
# file; from here on everything is a real script:
#
#   step.sh <bundle dir> up|down <lock> <step> <script> [args...]
#       run scripts/<script> for the step's create (up) or delete (down):
#       - secrets: the rest of stdin is "<NAME> <base64 value>" lines; each value goes to a 0600
#         file in the bundle dir and $NAME is set to that file's path (never argv, never env)
#       - LAB_STACK, LAB_RUN_DIR, LAB_STATE_DIR, LAB_STATE_ROOT, LAB_BUNDLE_DIR for the script,
#         plus LAB_FILE_ENV ("VAR=relative/path ...") turned into VAR=<bundle dir>/relative/path
#       - a host-wide lock (flock on /run/lock; "shared" for builds, "exclusive" otherwise), so
#         steps of several stacks on one host never interleave; fd 9 is not passed on
#       - the script's stdout goes to a file (its last line is the step's JSON result); stderr
#         is streamed through `tee -p`: a dropped SSH connection cannot SIGPIPE the script, it
#         runs to its end (its result, or its own undo), and this runner cleans up
#       - after a successful up of a step with a probe (PULUMI_COMMAND_READ set): a liveness
#         record $LAB_STATE_DIR/steps/<step> (boot id, the script's reported pid and its start
#         time) for `probe`; down removes it
#       - an up whose result cannot be sent back (the connection is gone) is undone with the
#         step's teardown, LAB_STEP_DOWN ("<script> [args...]"): Pulumi will not record it
#   step.sh <bundle dir> probe boot|persistent <step> [<script> <args...>]
#       is the step still there? exit 0 yes, 3 gone (the provider's Read: refresh drops the
#       step and the next up creates it again), other = cannot tell. Gone when: no record; for
#       "boot" steps, the host booted since; the recorded pid is not the same process any more;
#       or `scripts/<script> <args>` (a read-only status call) exits 3.
# Environment: VPL_STACK (the stack name), LAB_FILE_ENV, and the step's own variables.
set -euo pipefail
# A dropped connection must not kill this runner half-way (no PTY: no SIGHUP, but writes fail).
trap '' PIPE HUP

bundle=${1:?bundle dir}
verb=${2:?verb}
shift 2

say() { printf '[step] %s\n' "$*" >&2 || true; }
fail() {
  say "ERROR: $*"
  cleanup
  exit 1
}
cleanup() { rm -rf -- "$bundle" 2>/dev/null || true; }

stack=${VPL_STACK:-}
[[ "$stack" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || fail "VPL_STACK='$stack' is not a stack name ([a-z0-9][a-z0-9-]{0,30})"
case "$bundle" in /tmp/vpl-step.*) ;; *) fail "bundle dir '$bundle' is not one of ours" ;; esac
export LAB_STACK=$stack
export LAB_STATE_ROOT=/var/lib/vhost-perf-lab
export LAB_RUN_DIR=/run/vhost-perf-lab/$stack
export LAB_STATE_DIR=$LAB_STATE_ROOT/$stack
export LAB_BUNDLE_DIR=$bundle
steps_dir=$LAB_STATE_DIR/steps

for pair in ${LAB_FILE_ENV:-}; do
  name=${pair%%=*}
  rel=${pair#*=}
  [[ "$name" =~ ^[A-Z][A-Z0-9_]*$ ]] || fail "LAB_FILE_ENV: '$name' is not a variable name"
  [[ "$rel" =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*$ && "$rel" != *..* ]] || fail "LAB_FILE_ENV: '$rel' is not a bundle path"
  export "$name=$bundle/$rel"
done
unset LAB_FILE_ENV

# VPL_BOOT_ID_FILE: tests only (a host "reboots" when its content changes)
boot_id() { cat "${VPL_BOOT_ID_FILE:-/proc/sys/kernel/random/boot_id}"; }
# field 22 of /proc/<pid>/stat: start time in clock ticks since boot
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # word splitting wanted
  set -- $stat
  printf '%s\n' "${20}"
}
step_ok() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]]; }

read_secrets() {
  local name value
  while IFS=' ' read -r name value; do
    [ -n "$name" ] || continue
    [[ "$name" =~ ^[A-Z][A-Z0-9_]*$ ]] || fail "secret name '$name' is not a variable name"
    (umask 077 && printf %s "$value" | base64 -d >"$bundle/.secret-$name") ||
      fail "secret $name is not base64"
    export "$name=$bundle/.secret-$name"
  done
}

lock() {
  local mode=$1 flag
  case "$mode" in
    shared) flag=-s ;;
    exclusive) flag=-x ;;
    *) fail "lock mode '$mode' is not shared or exclusive" ;;
  esac
  if [ -d /run/lock ]; then exec 9</run/lock; else exec 9</run; fi
  if ! flock -n "$flag" 9; then
    say "waiting for the host lock (a step of another stack or run is busy on this host)"
    flock -w "${VPL_LOCK_TIMEOUT:-3600}" "$flag" 9 || fail "the host lock was not free within ${VPL_LOCK_TIMEOUT:-3600} s"
  fi
}

# the JSON line's "pid" field, if any
json_pid() { sed -n 's/.*"pid":[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1" | tail -n 1; }

record_step() {
  local step=$1 out=$2 pid st=""
  mkdir -p -- "$steps_dir"
  pid=$(json_pid "$out")
  if [ -n "$pid" ]; then st=$(start_time "$pid" || true); fi
  printf 'boot=%s\npid=%s\nstart=%s\n' "$(boot_id)" "$pid" "$st" >"$steps_dir/$step.tmp"
  mv -- "$steps_dir/$step.tmp" "$steps_dir/$step"
}

run() {
  local role=$1 mode=$2 step=$3 script=$4
  shift 4
  step_ok "$step" || fail "'$step' is not a step name"
  [ -f "$bundle/scripts/$script" ] || fail "scripts/$script is not in the bundle"
  read_secrets
  export LAB_STEP_NAME=$step
  lock "$mode"
  local rc=0
  # stdout to a file; stderr through tee -p (keeps reading when the connection is gone). A
  # cancel (TERM to every process of the run, KILL 3 s later) reaches the script, which undoes
  # what it did; this runner and tee ignore it so the undo's messages still have a reader and
  # the bundle (with the secrets) is removed. The script gets default signal dispositions, and
  # not fd 9 (the lock).
  trap '' TERM INT
  set +e
  env --default-signal=PIPE,HUP,TERM,INT bash "$bundle/scripts/$script" "$@" </dev/null 9<&- 2>&1 >"$bundle/.stdout" |
    tee -p -a -- "$bundle/.stderr" >&2 9<&-
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -eq 0 ] && [ -n "${PULUMI_COMMAND_READ:-}" ]; then
    if [ "$role" = up ]; then
      record_step "$step" "$bundle/.stdout"
    else
      forget_step "$step"
    fi
  fi
  # The result goes back over the connection. If that fails, the connection is gone: the
  # provider reports the step failed and Pulumi records nothing, so a finished up must not stay
  # behind untracked: undo it with the step's own teardown.
  if ! cat -- "$bundle/.stdout" 2>/dev/null && [ "$role" = up ] && [ "$rc" -eq 0 ]; then
    undo_lost "$step"
    rc=1
  fi
  cleanup
  return "$rc"
}

forget_step() {
  if [ -f "$steps_dir/$1" ]; then
    rm -f -- "$steps_dir/$1"
    rmdir -- "$steps_dir" 2>/dev/null || true
  fi
}

# LAB_STEP_DOWN: "<script> [args...]", the step's teardown (empty: nothing to undo)
undo_lost() {
  local step=$1 down
  read -r -a down <<<"${LAB_STEP_DOWN:-}"
  [ "${#down[@]}" -gt 0 ] || return 0
  say "connection lost after step $step: undoing it (${down[*]})"
  env --default-signal=PIPE,HUP,TERM,INT bash "$bundle/scripts/${down[0]}" "${down[@]:1}" \
    </dev/null 9<&- >/dev/null 2>>"$bundle/.stderr" && forget_step "$step"
}

probe() {
  local kind=$1 step=$2
  shift 2
  step_ok "$step" || { say "'$step' is not a step name"; cleanup; exit 2; }
  local rec=$steps_dir/$step gone=""
  if [ ! -f "$rec" ]; then
    gone="no record of step $step in $steps_dir"
  else
    local boot pid st
    boot=$(sed -n 's/^boot=//p' "$rec")
    pid=$(sed -n 's/^pid=//p' "$rec")
    st=$(sed -n 's/^start=//p' "$rec")
    if [ "$kind" = boot ] && [ "$boot" != "$(boot_id)" ]; then
      gone="the host booted since step $step ran"
    elif [ -n "$pid" ] && [ "$(start_time "$pid" || true)" != "$st" ]; then
      gone="process $pid of step $step is gone"
    fi
  fi
  if [ -z "$gone" ] && [ $# -gt 0 ]; then
    local script=$1 rc=0
    shift
    bash "$bundle/scripts/$script" "$@" </dev/null >/dev/null || rc=$?
    case "$rc" in
      0) ;;
      3) gone="$script $* reports it gone" ;;
      *) say "$script $* failed (exit $rc)"; cleanup; exit 2 ;;
    esac
  fi
  cleanup
  if [ -n "$gone" ]; then
    say "$gone"
    exit 3
  fi
  exit 0
}

case "$verb" in
  up | down)
    run "$verb" "$@" || exit $?
    ;;
  probe) probe "$@" ;;
  *) fail "verb '$verb' is not up, down or probe" ;;
esac
