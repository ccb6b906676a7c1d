# shellcheck shell=bash
# What the DUT tuning scripts (dut-sysctl.sh, dut-irq-affinity.sh, dut-cpufreq.sh) share:
# sourced by each after `set -euo pipefail`, never run on its own. Provides
#
#   log              progress on stderr as `[<log_tag>] ...`
#   the undo stack of one apply run:
#     undo_paths/undo_vals   each write of this run: the path and the value it replaced
#                            (pushed by the caller after each write that succeeded)
#     applying               1 while apply changes the host (set and cleared by the caller)
#     remember_record        note the record file as it is before this run changes it
#     restore_record         put the record file back as remembered (removed if there was none)
#     undo                   put back this run's writes, newest first, then the record
#   die              undo when applying, then `ERROR: ...` on stderr and exit 1
#   on_exit          the EXIT trap (set here): undo when apply stops on an unexpected error
#   json_str         a string as a JSON string literal
#   read_value       sets $value, or fails with $read_err set
#   write_value      one write of a value, or fails with $write_err set
#   key=value records (dut-sysctl.sh, dut-cpufreq.sh): rec_keys/rec_vals,
#     load_kv_record FIX     read $prev (a bad line dies with FIX as the fix)
#     save_kv_record         write rec_keys/rec_vals to $prev
#     revert_kv_record BAD_FIX FIX
#                            restore every recorded key at "$(record_path KEY)" (the caller's
#                            function; a missing file is reported by its `record_gone KEY PATH`),
#                            keep what failed in $prev and die with FIX, else remove $prev;
#                            prints the revert's JSON line (BAD_FIX: as for load_kv_record)
#
# The caller sets before sourcing (sourcing fails naming the one that is not set):
#   log_tag   the tag of its stderr lines, e.g. sysctl
#   prev      its record file, e.g. $LAB_STATE_DIR/sysctl.prev
#
# A script whose undo or read_value differs defines its own after sourcing (the later
# definition is the one that runs; die and on_exit call it by name).

: "${log_tag:?set log_tag before sourcing tuning-common.sh}" "${prev:?set prev before sourcing tuning-common.sh}"

log() { printf '[%s] %s\n' "$log_tag" "$*" >&2; }

# what this run changed, undone in reverse order if apply fails midway
undo_paths=()
undo_vals=()
applying=0
record_existed=0
record_before=""

remember_record() {
  if [ -f "$prev" ]; then
    record_existed=1
    record_before=$(cat "$prev"; printf x)
    record_before=${record_before%x}
  fi
}

restore_record() {
  if [ "$record_existed" = 1 ]; then
    printf '%s' "$record_before" >"$prev"
  else
    rm -f "$prev"
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

die() {
  [ "$applying" = 0 ] || undo
  log "ERROR: $*"
  exit 1
}

on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ "$applying" = 1 ]; then
    log "apply stopped unexpectedly (exit $rc): putting back what this run changed"
    undo
  fi
}
trap on_exit EXIT

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

load_kv_record() {
  local line
  rec_keys=()
  rec_vals=()
  [ -f "$prev" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    case "$line" in *=*) ;; *) die "$prev: line '$line' is not key=value; fix: $1" ;; esac
    rec_keys+=("${line%%=*}")
    rec_vals+=("${line#*=}")
  done <"$prev"
}

save_kv_record() {
  local i
  mkdir -p "$(dirname "$prev")"
  {
    for i in "${!rec_keys[@]}"; do printf '%s=%s\n' "${rec_keys[$i]}" "${rec_vals[$i]}"; done
  } >"$prev.tmp"
  mv "$prev.tmp" "$prev"
}

revert_kv_record() {
  local bad_fix=$1 fix=$2 i key path restored=0
  local -a failed_keys=() failed_vals=() failed_msgs=()
  if [ ! -f "$prev" ]; then
    log "nothing recorded in $prev: nothing to revert"
    printf '{"tuning":"%s","action":"revert","restored":0}\n' "$log_tag"
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
    if read_value "$path" && [ "$value" = "${rec_vals[$i]}" ]; then
      restored=$((restored + 1))
    elif write_value "$path" "${rec_vals[$i]}"; then
      log "$key: back to ${rec_vals[$i]}"
      restored=$((restored + 1))
    else
      failed_keys+=("$key")
      failed_vals+=("${rec_vals[$i]}")
      failed_msgs+=("$key=${rec_vals[$i]}: $write_err")
    fi
  done
  if [ "${#failed_keys[@]}" -gt 0 ]; then
    # keep only what could not be restored, so a later revert can finish the job
    rec_keys=("${failed_keys[@]}")
    rec_vals=("${failed_vals[@]}")
    save_kv_record
    die "could not restore ${failed_msgs[*]}; fix: $fix and run revert again; what is left is in $prev"
  fi
  rm -f "$prev"
  rmdir "$(dirname "$prev")" 2>/dev/null || true
  printf '{"tuning":"%s","action":"revert","restored":%s}\n' "$log_tag" "$restored"
}
