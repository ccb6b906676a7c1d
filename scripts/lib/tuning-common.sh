# shellcheck shell=bash
# What the DUT tuning scripts (dut-hugepages.sh, dut-sysctl.sh, dut-irq-affinity.sh,
# dut-cpufreq.sh) share: sourced by each after `set -euo pipefail`, never run on its own.
#
# The caller sets before sourcing (sourcing fails naming the one that is not set):
#   log_tag       the tag of its stderr lines, e.g. sysctl
#   record_name   its record file's name in the stack's state directory, e.g. sysctl.prev
#
# Where things live (scripts/lib/step.sh sets all of these; the defaults are for running a
# script by hand):
#   state_dir    $LAB_STATE_DIR: this stack's records
#                (default $LAB_STATE_ROOT/$LAB_STACK, stack default "by-hand")
#   state_root   $LAB_STATE_ROOT: every stack's state directory is one level below
#                (default: the directory above LAB_STATE_DIR, else /var/lib/vhost-perf-lab)
#   run_dir      $LAB_RUN_DIR: this stack's runtime directory
#                (default /run/vhost-perf-lab/$LAB_STACK)
#   prev         $state_dir/$record_name, this script's record
#
# Provides
#   log              progress on stderr as `[<log_tag>] ...`; never fails: when stderr is gone
#                    (a broken pipe) the rest of the run writes it to /dev/null
#   signals          TERM and INT end the run with 143 / 130 through the EXIT trap (which
#                    undoes a half-done apply); SIGPIPE is caught, so a write to a broken
#                    stderr fails with EPIPE instead of killing the script
#   the undo stack of one apply run:
#     undo_paths/undo_vals   each write of this run: the path and the value it replaced
#                            (pushed by the caller after each write that succeeded)
#     applying               1 while apply changes the host (set and cleared by the caller)
#     remember_record        note the record file as it is before this run changes it
#     restore_record         put the record file back as remembered (removed if there was none)
#     undo                   put back this run's writes, newest first, then the record
#   die              undo when applying, then `ERROR: ...` on stderr and exit 1
#   on_exit          the EXIT trap (set here): undo when apply stops on an unexpected error or
#                    a signal; TERM/INT during the undo are held off until it has finished
#   refuse_if_held TUNING [ERE]
#                    fail (before anything changed) when another stack's record of this
#                    tuning exists under $state_root/<other>/$record_name (with ERE: only
#                    when a line of it matches), or a record of a lab from before per-stack
#                    state sits at $state_root/$record_name
#   json_str         a string as a JSON string literal
#   read_value       sets $value, or fails with $read_err set
#   write_value      one write of a value, or fails with $write_err set
#   key=value records (dut-sysctl.sh, dut-cpufreq.sh): rec_keys/rec_vals (the originals) and
#     rec_applied[key] (what the last apply left the key at), stored as `key=original` and
#     `+key=applied` lines,
#     load_kv_record FIX     read $prev (a bad line dies with FIX as the fix)
#     save_kv_record         write them to $prev
#     revert_kv_record BAD_FIX FIX
#                            restore every recorded key at "$(record_path KEY)" (the caller's
#                            function; a missing file is reported by its `record_gone KEY PATH`),
#                            report keys changed by hand since apply (found neither the applied
#                            value nor the original: restored anyway), keep what failed in
#                            $prev and die with FIX, else remove $prev; prints the revert's JSON
#                            line {"tuning":..,"action":"revert","restored":n,
#                            "changedSinceApply":[{"key":..,"applied":..,"found":..}]}
#
# A script whose undo or read_value differs defines its own after sourcing (the later
# definition is the one that runs; die and on_exit call it by name).

: "${log_tag:?set log_tag before sourcing tuning-common.sh}" "${record_name:?set record_name before sourcing tuning-common.sh}"

if [ -n "${LAB_STATE_DIR:-}" ]; then
  state_dir=$LAB_STATE_DIR
  state_root=${LAB_STATE_ROOT:-$(dirname -- "$state_dir")}
else
  state_root=${LAB_STATE_ROOT:-/var/lib/vhost-perf-lab}
  state_dir=${state_root%/}/${LAB_STACK:-by-hand}
fi
[ "$state_dir" = / ] || state_dir=${state_dir%/}
[ "$state_root" = / ] || state_root=${state_root%/}
# shellcheck disable=SC2034 # run_dir is for the caller
run_dir=${LAB_RUN_DIR:-/run/vhost-perf-lab/${LAB_STACK:-by-hand}}
prev="$state_dir/$record_name"

log() { printf '[%s] %s\n' "$log_tag" "$*" >&2 || exec 2>/dev/null; }

# a write to a broken stderr (the engine's connection gone) must not kill the script: with
# SIGPIPE caught the write fails with EPIPE and log() sends the rest to /dev/null. (Caught,
# not ignored: a program this script starts, like irqbalance, gets SIGPIPE's default back.)
trap ':' PIPE

# what this run changed, undone in reverse order if apply fails midway
undo_paths=()
undo_vals=()
applying=0
record_existed=0
record_before=""

remember_record() {
  if [ -f "$prev" ]; then
    record_existed=1
    record_before=$(cat -- "$prev"; printf x)
    record_before=${record_before%x}
  fi
}

restore_record() {
  if [ "$record_existed" = 1 ]; then
    printf '%s' "$record_before" >"$prev"
  else
    rm -f -- "$prev"
  fi
}

undo() {
  local i
  applying=0
  for ((i = ${#undo_paths[@]} - 1; i >= 0; i--)); do
    if write_value "${undo_paths[$i]}" "${undo_vals[$i]}"; then
      log "put back ${undo_paths[$i]} = ${undo_vals[$i]}"
    else
      log "WARNING: could not put back ${undo_paths[$i]} = ${undo_vals[$i]}: $write_err"
    fi
  done
  restore_record
}

# undo with TERM/INT held off: a second cancel must not cut the undo short (a handler, not
# an ignore, so programs the undo starts get the default dispositions)
run_undo() {
  trap 'log "signal received while putting back: finishing that first"' TERM INT
  applying=0
  undo
}

die() {
  if [ "$applying" = 1 ]; then
    run_undo
  fi
  log "ERROR: $*"
  exit 1
}

stopped_by="" # the signal that ended the run
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ "$applying" = 1 ]; then
    [ -n "$stopped_by" ] || log "apply stopped unexpectedly (exit $rc): putting back what this run changed"
    run_undo
  fi
}
trap on_exit EXIT

on_signal() {
  trap 'log "signal received while stopping: finishing that first"' TERM INT
  stopped_by=$1
  log "stopped by SIG$1$([ "$applying" = 1 ] && printf ' during apply: putting back what this run changed')"
  exit "$2" # through on_exit
}
trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT

# refuse_if_held TUNING [ERE]: another stack's record of this tuning -> die (nothing changed yet)
refuse_if_held() {
  local tuning=$1 ere=${2:-} f d fix
  fix="fix: destroy that stack or remove $tuning from vhost-perf-lab:tuning.apply"
  for f in "$state_root"/*/"$record_name" "$state_root/$record_name"; do
    [ -f "$f" ] || continue
    d=$(dirname -- "$f")
    [ "$d" != "$state_dir" ] || continue
    [ ! -d "$state_dir" ] || [ ! "$d" -ef "$state_dir" ] || continue
    if [ -n "$ere" ] && ! grep -q -E -- "$ere" "$f" 2>/dev/null; then
      continue
    fi
    if [ "$d" = "$state_root" ]; then
      die "tuning $tuning is held by a lab from before per-stack state (record $f); fix: destroy that lab with the version that applied it, or check the host by hand and remove the record"
    fi
    die "tuning $tuning is held by stack ${d##*/} (record $f); $fix"
  done
}

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//[[:cntrl:]]/}
  printf '"%s"' "$s"
}

# read_value path: sets $value (trailing newlines dropped); fails with $read_err set
# shellcheck disable=SC2034 # value and read_err are for the caller
read_value() {
  local out
  if out=$({ cat -- "$1"; } 2>&1); then
    value=$out
  else
    read_err=${out##*: }
    return 1
  fi
}

# write_value path value: one write of value + newline; fails with $write_err set
write_value() {
  local out
  if out=$({ printf '%s\n' "$2" >"$1"; } 2>&1); then
    return 0
  fi
  write_err=${out##*: }
  [ -n "$write_err" ] || write_err="write failed"
  return 1
}

rec_keys=()
rec_vals=()
declare -A rec_applied=()

load_kv_record() {
  local line
  rec_keys=()
  rec_vals=()
  rec_applied=()
  [ -f "$prev" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    case "$line" in
      +?*=*)
        line=${line#+}
        rec_applied[${line%%=*}]=${line#*=}
        ;;
      [!+=]*=*)
        rec_keys+=("${line%%=*}")
        rec_vals+=("${line#*=}")
        ;;
      *) die "$prev: line '$line' is not key=value; fix: $1" ;;
    esac
  done <"$prev"
}

save_kv_record() {
  local i
  mkdir -p -- "$(dirname -- "$prev")"
  {
    for i in "${!rec_keys[@]}"; do
      printf '%s=%s\n' "${rec_keys[$i]}" "${rec_vals[$i]}"
      [ -z "${rec_applied[${rec_keys[$i]}]+set}" ] || printf '+%s=%s\n' "${rec_keys[$i]}" "${rec_applied[${rec_keys[$i]}]}"
    done
  } >"$prev.tmp"
  mv -f -- "$prev.tmp" "$prev"
}

revert_kv_record() {
  local bad_fix=$1 fix=$2 i key path restored=0 sep="" applied
  local -a failed_keys=() failed_vals=() failed_msgs=() changed=()
  local -A failed_applied=()
  if [ ! -f "$prev" ]; then
    log "nothing recorded in $prev: nothing to revert"
    printf '{"tuning":"%s","action":"revert","restored":0,"changedSinceApply":[]}\n' "$log_tag"
    return
  fi
  load_kv_record "$bad_fix"
  for i in "${!rec_keys[@]}"; do
    key=${rec_keys[$i]}
    path=$(record_path "$key")
    if [ ! -f "$path" ]; then
      record_gone "$key" "$path"
      continue
    fi
    if ! read_value "$path"; then
      value="" # unreadable: written below all the same
    elif [ -n "${rec_applied[$key]+set}" ] && [ "$value" != "${rec_applied[$key]}" ] &&
      [ "$value" != "${rec_vals[$i]}" ]; then
      applied=${rec_applied[$key]}
      log "WARNING: $key was changed since apply (applied '$applied', found '$value'): putting back the recorded original '${rec_vals[$i]}' all the same"
      changed+=("{\"key\":$(json_str "$key"),\"applied\":$(json_str "$applied"),\"found\":$(json_str "$value")}")
    fi
    if [ "$value" = "${rec_vals[$i]}" ]; then
      restored=$((restored + 1))
    elif write_value "$path" "${rec_vals[$i]}"; then
      log "$key: back to ${rec_vals[$i]}"
      restored=$((restored + 1))
    else
      failed_keys+=("$key")
      failed_vals+=("${rec_vals[$i]}")
      [ -z "${rec_applied[$key]+set}" ] || failed_applied[$key]=${rec_applied[$key]}
      failed_msgs+=("$key=${rec_vals[$i]}: $write_err")
    fi
  done
  if [ "${#failed_keys[@]}" -gt 0 ]; then
    # keep only what could not be restored, so a later revert can finish the job
    rec_keys=("${failed_keys[@]}")
    rec_vals=("${failed_vals[@]}")
    rec_applied=()
    for key in "${!failed_applied[@]}"; do rec_applied[$key]=${failed_applied[$key]}; done
    save_kv_record
    die "could not restore ${failed_msgs[*]}; fix: $fix and run revert again; what is left is in $prev"
  fi
  rm -f -- "$prev"
  printf '{"tuning":"%s","action":"revert","restored":%s,"changedSinceApply":[' "$log_tag" "$restored"
  for i in "${changed[@]}"; do
    printf '%s%s' "$sep" "$i"
    sep=","
  done
  printf ']}\n'
}
