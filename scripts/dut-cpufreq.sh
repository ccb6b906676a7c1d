#!/usr/bin/env bash
# The "cpu-governor" and "turbo-off" tunings of a DUT with their exact revert.
#
#   dut-cpufreq.sh apply    set the scaling governor of every CPU, switch turbo off
#   dut-cpufreq.sh revert   put back every value apply changed, as it was before the first apply
#
# Environment:
#   CPUFREQ_GOVERNOR  e.g. performance; empty = leave the governor alone
#   CPUFREQ_TURBO     off, or empty = leave turbo alone
#   LAB_STATE_DIR     this stack's records (default $LAB_STATE_ROOT/$LAB_STACK)
#   LAB_STATE_ROOT    every stack's state directory (default: the directory above
#                     LAB_STATE_DIR, else /var/lib/vhost-perf-lab); see scripts/lib/tuning-common.sh
#   TUNING_SYSFS      the sys tree (default /sys; tests point it at a fake tree)
#   TUNING_PROCFS     the proc tree (default /proc; read by nothing here, accepted for symmetry)
#
# Governor: every devices/system/cpu/cpu<N>/cpufreq/scaling_governor, if the governor is in that
# CPU's scaling_available_governors (checked for all CPUs before writing any). No cpufreq at
# all (a virtual machine, no driver) is reported as "unavailable", not an error. Turbo:
# intel_pstate/no_turbo -> 1, else cpufreq/boost -> 0, else "unavailable". A value the kernel
# refuses puts back what this run changed and fails naming the file, the error and the fix.
#
# The governor and turbo are host-global: each held by at most one stack. apply fails before
# changing anything when another stack's record ($LAB_STATE_ROOT/<other>/cpufreq.prev) holds the
# governor (scaling_governor lines) or turbo (no_turbo/boost line) that this apply would set.
# SIGTERM/SIGINT during apply put back what the run changed (exit 143/130).
#
# Record: $LAB_STATE_DIR/cpufreq.prev, one `<path under TUNING_SYSFS>=<original>` line per file,
# written at the file's first touch and never overwritten, so revert restores the host as it
# was before the lab however often apply ran; `+<path>=<value>` what the last apply left it at
# (revert reports a value changed since in changedSinceApply and restores the original anyway).
#
# stdout, one JSON line:
#   apply   {"tuning":"cpufreq","action":"apply",
#            "governor":{"status":"applied"|"unavailable"|"skipped","value":"performance","cpus":<n>,"reason":".."},
#            "turbo":{"status":"applied"|"unavailable"|"skipped","via":"intel_pstate/no_turbo"|"cpufreq/boost","reason":".."}}
#            (reason only when not applied, via only when applied; cpus = CPUs now on the governor)
#   revert  {"tuning":"cpufreq","action":"revert","restored":<n>,
#            "changedSinceApply":[{"key":<path>,"applied":..,"found":..}]}
# Progress on stderr as `[cpufreq] ...`.
set -euo pipefail
export LC_ALL=C

sysfs=${TUNING_SYSFS:-/sys}
cpudir="$sysfs/devices/system/cpu"
governor=${CPUFREQ_GOVERNOR:-}
turbo=${CPUFREQ_TURBO:-}

log_tag=cpufreq
record_name=cpufreq.prev
# shellcheck source-path=SCRIPTDIR source=lib/tuning-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tuning-common.sh"

# the record (rec_keys/rec_vals, path=value lines, paths relative to $sysfs): tuning-common.sh
bad_record_fix="check the cpufreq settings by hand, then remove the file"
record_path() { printf '%s/%s' "$sysfs" "$1"; }
record_gone() { log "$1: gone (CPU offline or driver unloaded): nothing to restore"; }

recorded() {
  local k
  for k in "${rec_keys[@]}"; do [ "$k" != "$1" ] || return 0; done
  return 1
}

# remember a file's original at its first touch (before this run writes anything)
touch_first() {
  local rel=${1#"$sysfs"/}
  recorded "$rel" && return 0
  read_value "$1" || die "cannot read $1: $read_err"
  rec_keys+=("$rel")
  rec_vals+=("$value")
}

# set_value path value what-for: write unless already so; on refusal undo and die; notes
# what the file reads afterwards as what apply left it at
set_value() {
  local cur
  read_value "$1" || die "cannot read $1: $read_err"
  cur=$value
  if [ "$cur" != "$2" ]; then
    # on the undo stack before the write: a signal right after it still finds it
    undo_paths+=("$1")
    undo_vals+=("$cur")
    if ! write_value "$1" "$2"; then
      unset 'undo_paths[-1]' 'undo_vals[-1]'
      die "cannot write $2 to $1: $write_err; fix: $3"
    fi
    log "${1#"$cpudir"/}: $cur -> $2"
    read_value "$1" || die "cannot read $1 back: $read_err"
  fi
  rec_applied[${1#"$sysfs"/}]=$value
}

apply() {
  if [ -n "$governor" ] && ! [[ "$governor" =~ ^[A-Za-z0-9_-]+$ ]]; then
    die "CPUFREQ_GOVERNOR='$governor' is not a governor name (like performance)"
  fi
  case "$turbo" in
    '' | off) ;;
    *) die "CPUFREQ_TURBO='$turbo': only off (or empty to leave turbo alone)" ;;
  esac

  local -a govs=() words
  local f avail g_status g_reason="" g_cpus=0 t_status t_via="" t_reason="" t_file="" t_value=""
  local gfix="remove cpu-governor from vhost-perf-lab:tuning.apply, or load a cpufreq driver that offers $governor"
  local tfix="remove turbo-off from vhost-perf-lab:tuning.apply (turbo is locked here, e.g. by the firmware)"
  if [ -z "$governor" ]; then
    g_status=skipped
    g_reason="CPUFREQ_GOVERNOR is empty: governor left alone"
  else
    for f in "$cpudir"/cpu[0-9]*/cpufreq/scaling_governor; do
      [ -f "$f" ] && govs+=("$f")
    done
    if [ "${#govs[@]}" = 0 ]; then
      g_status=unavailable
      g_reason="no cpufreq under $cpudir (a virtual machine, or no cpufreq driver loaded)"
    else
      g_status=applied
      for f in "${govs[@]}"; do
        avail=$(cat "${f%/*}/scaling_available_governors" 2>/dev/null) || avail=""
        read -r -a words <<<"${avail//[[:space:]]/ }" || true
        avail=${words[*]}
        case " $avail " in
          *" $governor "*) ;;
          *)
            f=${f#"$cpudir"/}
            die "${f%%/*} offers the governors '$avail', not $governor; fix: set a governor from that list, or $gfix"
            ;;
        esac
      done
    fi
  fi
  if [ -z "$turbo" ]; then
    t_status=skipped
    t_reason="CPUFREQ_TURBO is empty: turbo left alone"
  elif [ -f "$cpudir/intel_pstate/no_turbo" ]; then
    t_status=applied t_via=intel_pstate/no_turbo t_file="$cpudir/intel_pstate/no_turbo" t_value=1
  elif [ -f "$cpudir/cpufreq/boost" ]; then
    t_status=applied t_via=cpufreq/boost t_file="$cpudir/cpufreq/boost" t_value=0
  else
    t_status=unavailable
    t_reason="neither intel_pstate/no_turbo nor cpufreq/boost under $cpudir (a virtual machine, or a cpufreq driver without turbo control)"
  fi

  # another stack holding what this run would set: refused before anything changes
  [ "$g_status" != applied ] ||
    refuse_if_held cpu-governor '^devices/system/cpu/cpu[0-9]+/cpufreq/scaling_governor='
  [ -z "$t_file" ] || refuse_if_held turbo-off '^devices/system/cpu/(intel_pstate/no_turbo|cpufreq/boost)='

  load_kv_record "$bad_record_fix"
  remember_record
  # the record first: everything this run may change, at its first touch
  local n=${#rec_keys[@]}
  if [ "$g_status" = applied ]; then
    for f in "${govs[@]}"; do touch_first "$f"; done
  fi
  [ -z "$t_file" ] || touch_first "$t_file"
  applying=1
  [ "${#rec_keys[@]}" = "$n" ] || save_kv_record

  if [ "$g_status" = applied ]; then
    for f in "${govs[@]}"; do
      set_value "$f" "$governor" "$gfix"
      g_cpus=$((g_cpus + 1))
    done
    log "governor $governor on $g_cpus CPUs"
  else
    log "governor: $g_status ($g_reason)"
  fi
  if [ -n "$t_file" ]; then
    set_value "$t_file" "$t_value" "$tfix"
    log "turbo off via $t_via"
  else
    log "turbo: $t_status ($t_reason)"
  fi
  [ "${#rec_keys[@]}" = 0 ] || save_kv_record
  applying=0

  local gov_json turbo_json
  gov_json="{\"status\":\"$g_status\",\"value\":$(json_str "$governor"),\"cpus\":$g_cpus"
  [ -z "$g_reason" ] || gov_json+=",\"reason\":$(json_str "$g_reason")"
  gov_json+="}"
  turbo_json="{\"status\":\"$t_status\""
  [ -z "$t_via" ] || turbo_json+=",\"via\":\"$t_via\""
  [ -z "$t_reason" ] || turbo_json+=",\"reason\":$(json_str "$t_reason")"
  turbo_json+="}"
  printf '{"tuning":"cpufreq","action":"apply","governor":%s,"turbo":%s}\n' "$gov_json" "$turbo_json"
}

revert() {
  revert_kv_record "$bad_record_fix" "set it by hand (or load the cpufreq driver again)"
}

case "${1:-}" in
  apply) apply ;;
  revert) revert ;;
  *) die "usage: $0 apply|revert" ;;
esac
