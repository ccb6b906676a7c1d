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
