#!/usr/bin/env bash
# CSIT's sysctl tuning of a DUT with its exact revert.
#
#   dut-sysctl.sh apply    set every key of SYSCTL_SETTINGS
#   dut-sysctl.sh revert   put back every key apply touched, as it was before the first apply
#
# Environment:
#   SYSCTL_SETTINGS  newline-separated lines, blank lines and '#' comments ignored:
#                      key=value    set exactly (compared after whitespace normalisation, as
#                                   the kernel prints it: "0-1", "4096 131072 6291456")
#                      key>=value   integers: raise to at least value, never lower (big
#                                   decimals such as 18446744073692774399 compare exactly)
#                    keys dotted (vm.swappiness -> $TUNING_PROCFS/sys/vm/swappiness) or with '/'
#   LAB_STATE_DIR    this stack's records (default $LAB_STATE_ROOT/$LAB_STACK)
#   LAB_STATE_ROOT   every stack's state directory (default: the directory above
#                    LAB_STATE_DIR, else /var/lib/vhost-perf-lab); see scripts/lib/tuning-common.sh
#   TUNING_PROCFS    the proc tree (default /proc; tests point it at a fake tree)
#
# The sysctls are host-global: held by at most one stack. apply fails before changing anything
# when another stack's record ($LAB_STATE_ROOT/<other>/sysctl.prev) exists.
#
# Record: $LAB_STATE_DIR/sysctl.prev, one `key=original value` line per key, written at the
# key's first touch and never overwritten (a later apply with more keys adds them), so revert
# restores the host as it was before the lab however often apply ran; and `+key=value` with
# what the last apply left the key at. A key the kernel does not have is skipped and listed as
# missing; a value the kernel refuses puts back what this run changed (values and record) and
# fails naming the key, the value and the error. SIGTERM/SIGINT during apply do the same (exit
# 143/130). revert restores every recorded original, also of a key changed by hand since apply
# (reported on stderr and in changedSinceApply); a key it cannot restore stays in the record
# and fails the revert, so a second revert can finish; with nothing recorded it does nothing.
#
# stdout, one JSON line:
#   apply   {"tuning":"sysctl","action":"apply","settings":[{"key":..,"before":..,"value":..}],
#            "missing":[..]}   before = the recorded original, value = what the kernel reads now
#   revert  {"tuning":"sysctl","action":"revert","restored":<n>,
#            "changedSinceApply":[{"key":..,"applied":..,"found":..}]}
# Progress on stderr as `[sysctl] ...`.
set -euo pipefail
export LC_ALL=C

procfs=${TUNING_PROCFS:-/proc}

log_tag=sysctl
record_name=sysctl.prev
# shellcheck source-path=SCRIPTDIR source=lib/tuning-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tuning-common.sh"

# whitespace-normalised: runs of blanks become one space, none at either end
norm() {
  local s=$1
  local -a words
  s=${s//[[:space:]]/ }
  read -r -a words <<<"$s" || true
  printf '%s' "${words[*]}"
}

# compare two decimal integers of any size, without arithmetic: prints -1, 0 or 1
cmp_int() {
  local a=$1 b=$2 sa=1 sb=1 r
  case "$a" in -*) sa=-1 a=${a#-} ;; esac
  case "$b" in -*) sb=-1 b=${b#-} ;; esac
  a=${a#"${a%%[!0]*}"}
  b=${b#"${b%%[!0]*}"}
  [ -n "$a" ] || sa=1
  [ -n "$b" ] || sb=1
  if [ "$sa" != "$sb" ]; then
    [ "$sa" = 1 ] && echo 1 || echo -1
    return
  fi
  if [ "${#a}" -ne "${#b}" ]; then
    [ "${#a}" -gt "${#b}" ] && r=1 || r=-1
  elif [ "$a" = "$b" ]; then
    r=0
  elif [[ "$a" > "$b" ]]; then
    r=1
  else
    r=-1
  fi
  [ "$sa" = 1 ] || r=$((-r))
  echo "$r"
}

is_int() { [[ "$1" =~ ^-?[0-9]+$ ]]; }

key_path() {
  local k=$1
  case "$k" in */*) ;; *) k=${k//./\/} ;; esac
  printf '%s/sys/%s' "$procfs" "$k"
}

# the record (rec_keys/rec_vals, key=value lines): tuning-common.sh
bad_record_fix="remove the file only after checking the host's sysctls by hand"
record_path() { key_path "$1"; }
record_gone() { log "$1: gone from this kernel ($2): nothing to restore"; }

rec_index() {
  local i
  for i in "${!rec_keys[@]}"; do
    if [ "${rec_keys[$i]}" = "$1" ]; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

apply() {
  local line key op want n
  local -a keys=() ops=() wants=()
  # parse and check everything before touching anything
  n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    case "$line" in *=*) ;; *) die "SYSCTL_SETTINGS line $n '$line' is not key=value or key>=value" ;; esac
    key=${line%%=*}
    want=${line#*=}
    op="="
    case "$key" in *'>') op=">=" key=${key%'>'} ;; esac
    key=$(norm "$key")
    want=$(norm "$want")
    [[ "$key" =~ ^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$ && "$key" != *..* ]] ||
      die "SYSCTL_SETTINGS line $n: '$key' is not a sysctl key (like vm.swappiness)"
    if [ "$op" = ">=" ] && ! is_int "$want"; then
      die "SYSCTL_SETTINGS line $n: $key>=$want needs an integer (use key=value for other values)"
    fi
    case " ${keys[*]} " in *" $key "*) die "SYSCTL_SETTINGS names $key twice; keep one line per key" ;; esac
    keys+=("$key")
    ops+=("$op")
    wants+=("$want")
  done <<<"${SYSCTL_SETTINGS:-}"

  refuse_if_held sysctl
  load_kv_record "$bad_record_fix"
  remember_record

  # first touch: record the originals of keys not recorded yet, before writing anything
  local i path added=0
  local -a missing=()
  for i in "${!keys[@]}"; do
    key=${keys[$i]}
    path=$(key_path "$key")
    if [ ! -f "$path" ]; then
      missing+=("$key")
      log "$key: not in this kernel ($path): skipped"
      continue
    fi
    rec_index "$key" >/dev/null && continue
    read_value "$path" ||
      die "cannot read $key ($path): $read_err; fix: remove sysctl from vhost-perf-lab:tuning.apply, or drop $key from the settings"
    case "$value" in *$'\n'*) die "$key reads as several lines: not a settable value; fix: drop $key from the settings" ;; esac
    rec_keys+=("$key")
    rec_vals+=("$value")
    added=1
  done
  applying=1
  [ "$added" = 0 ] || save_kv_record

  local cur need c
  local -a out_keys=() out_before=() out_value=()
  for i in "${!keys[@]}"; do
    key=${keys[$i]}
    op=${ops[$i]}
    want=${wants[$i]}
    path=$(key_path "$key")
    [ -f "$path" ] || continue
    read_value "$path" ||
      die "cannot read $key ($path): $read_err; fix: remove sysctl from vhost-perf-lab:tuning.apply, or drop $key from the settings"
    cur=$value
    need=0
    if [ "$op" = "=" ]; then
      [ "$(norm "$cur")" = "$want" ] || need=1
    else
      is_int "$(norm "$cur")" ||
        die "$key>=$want: the kernel reads '$cur', not one integer; fix: use $key=<value> in the settings"
      c=$(cmp_int "$(norm "$cur")" "$want")
      [ "$c" -ge 0 ] || need=1
    fi
    if [ "$need" = 1 ]; then
      # on the undo stack before the write: a signal right after it still finds it
      undo_paths+=("$path")
      undo_vals+=("$cur")
      if ! write_value "$path" "$want"; then
        unset 'undo_paths[-1]' 'undo_vals[-1]'
        die "cannot set $key=$want ($path): $write_err; fix: remove sysctl from vhost-perf-lab:tuning.apply, or drop or correct $key in the sysctl settings (read-only here, e.g. in a container, or a value out of range)"
      fi
      read_value "$path" || die "cannot read $key back ($path): $read_err"
      log "$key: $cur -> $value"
      if [ "$op" = "=" ] && [ "$(norm "$value")" != "$want" ]; then
        log "WARNING: $key reads back '$value', not '$want' (write the value as the kernel prints it)"
      fi
    else
      value=$cur
      log "$key: already $cur"
    fi
    out_keys+=("$key")
    out_before+=("${rec_vals[$(rec_index "$key")]}")
    out_value+=("$value")
    rec_applied[$key]=$value
  done
  [ "${#out_keys[@]}" = 0 ] || save_kv_record
  applying=0

  local sep=""
  printf '{"tuning":"sysctl","action":"apply","settings":['
  for i in "${!out_keys[@]}"; do
    printf '%s{"key":%s,"before":%s,"value":%s}' "$sep" "$(json_str "${out_keys[$i]}")" \
      "$(json_str "${out_before[$i]}")" "$(json_str "${out_value[$i]}")"
    sep=","
  done
  printf '],"missing":['
  sep=""
  for key in "${missing[@]}"; do
    printf '%s%s' "$sep" "$(json_str "$key")"
    sep=","
  done
  printf ']}\n'
}

revert() {
  revert_kv_record "$bad_record_fix" "make the key writable again (or set it by hand)"
}

case "${1:-}" in
  apply) apply ;;
  revert) revert ;;
  *) die "usage: $0 apply|revert" ;;
esac
