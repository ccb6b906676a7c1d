#!/usr/bin/env bash
# The "irqbalance" tuning of a DUT with its exact revert: device interrupts kept on the
# housekeeping CPUs, off the data-plane CPUs.
#
#   dut-irq-affinity.sh apply    stop irqbalance if it runs, steer every interrupt to IRQ_CPUS
#   dut-irq-affinity.sh revert   put every affinity back, start irqbalance again if apply stopped it
#
# Environment:
#   IRQ_CPUS        the housekeeping CPUs as a list: "0", "0,2-3"
#   LAB_STATE_DIR   this stack's records (default $LAB_STATE_ROOT/$LAB_STACK)
#   LAB_STATE_ROOT  every stack's state directory (default: the directory above LAB_STATE_DIR,
#                   else /var/lib/vhost-perf-lab); see scripts/lib/tuning-common.sh
#   TUNING_PROCFS   the proc tree (default /proc; tests point it at a fake tree)
#   TUNING_SYSFS    the sys tree (default /sys), for devices/system/cpu/online
#
# apply writes the mask of IRQ_CPUS to irq/default_smp_affinity (hex, in the kernel's own
# width and 32-bit comma groups) and IRQ_CPUS to every irq/<n>/smp_affinity_list. A write the
# kernel refuses (managed or per-CPU interrupts: EIO, EINVAL, EPERM) counts as unmovable, not
# as an error. irqbalance (a process named irqbalance) is stopped first: with systemctl when
# systemd runs, else with `service` when /etc/init.d/irqbalance exists, else with SIGTERM.
#
# IRQ affinities and irqbalance are host-global: held by at most one stack. apply fails before
# changing anything when another stack's record ($LAB_STATE_ROOT/<other>/irqbalance.prev)
# exists. SIGTERM/SIGINT during apply put back what the run changed (exit 143/130).
#
# Record: $LAB_STATE_DIR/irqbalance.prev, written by the first apply and only added to later
# (an interrupt that appeared since): how irqbalance was stopped (`irqbalance=not-running`,
# `systemctl`, `service`, or `kill` with its command line in `irqbalance_cmdline=`, base64 of
# the NUL-separated argv), `default=<mask>` and `irq <n>=<cpu list>` per interrupt this stack
# moved (an interrupt first seen by this run that refused the move is dropped again: never
# moved, nothing to put back). revert restores the default and every recorded interrupt that
# still exists, starts irqbalance again the way it was stopped and removes the record; an
# affinity it cannot restore fails the revert naming the interrupts, and the record keeps
# exactly what was not restored (and how to start irqbalance, if that failed too), so a second
# revert can finish.
#
# stdout, one JSON line:
#   apply   {"tuning":"irqbalance","action":"apply","cpus":"0","irqbalance":"stopped"|"not-running",
#            "moved":<n>,"unmovable":<m>}   cpus = IRQ_CPUS as the kernel prints lists
#   revert  {"tuning":"irqbalance","action":"revert","restored":<n>,"irqbalance":"started"|"not-running"}
#            restored counts the default mask and the interrupts now back as recorded
# Progress on stderr as `[irqbalance] ...`.
set -euo pipefail
export LC_ALL=C

procfs=${TUNING_PROCFS:-/proc}
sysfs=${TUNING_SYSFS:-/sys}
irqdir="$procfs/irq"
readonly MAX_CPUS=8192

log_tag=irqbalance
record_name=irqbalance.prev
# shellcheck source-path=SCRIPTDIR source=lib/tuning-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tuning-common.sh"

stopped_now="" # how this run stopped irqbalance, to start it again on undo
cmdline_now=""

# replaces the lib's undo(): one line for the affinities put back, and irqbalance started
# again if this run stopped it
undo() {
  local i
  applying=0
  for ((i = ${#undo_paths[@]} - 1; i >= 0; i--)); do
    write_value "${undo_paths[$i]}" "${undo_vals[$i]}" ||
      log "WARNING: could not put back ${undo_paths[$i]} = ${undo_vals[$i]}: $write_err"
  done
  [ "${#undo_paths[@]}" = 0 ] || log "put back the ${#undo_paths[@]} affinities this run changed"
  if [ -n "$stopped_now" ]; then
    start_irqbalance "$stopped_now" "$cmdline_now" || log "WARNING: could not start irqbalance again"
  fi
  restore_record
}

# replaces the lib's read_value(): sets $value (surrounding whitespace dropped); fails with
# $read_err set
read_value() {
  local out
  if out=$({ cat -- "$1"; } 2>&1); then
    value=${out//[[:space:]]/}
  else
    read_err=${out##*: }
    return 1
  fi
}

# parse_list "0,2-3": sets cpus[] (sorted, unique CPU numbers); fails with $list_err set
parse_list() {
  local list=$1 part a b c
  local -A seen=()
  cpus=()
  if ! [[ "$list" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]]; then
    list_err="not a CPU list (numbers and ranges separated by commas, like 0 or 0,2-3)"
    return 1
  fi
  IFS=, read -r -a parts <<<"$list"
  for part in "${parts[@]}"; do
    a=${part%%-*}
    b=${part##*-}
    if [ "${#a}" -gt 5 ] || [ "${#b}" -gt 5 ] || [ "$((10#$b))" -ge "$MAX_CPUS" ]; then
      list_err="CPU $part is beyond any kernel's $MAX_CPUS CPUs"
      return 1
    fi
    a=$((10#$a))
    b=$((10#$b))
    if [ "$a" -gt "$b" ]; then
      list_err="range $part runs backwards"
      return 1
    fi
    for ((c = a; c <= b; c++)); do seen[$c]=1; done
  done
  mapfile -t cpus < <(printf '%s\n' "${!seen[@]}" | sort -n)
}

# the CPUs in cpus[] as the kernel prints lists: "0,2-3"
canonical_list() {
  local out="" start=-1 last=-2 c
  for c in "${cpus[@]}" -1; do
    if [ "$c" = "$((last + 1))" ]; then
      last=$c
      continue
    fi
    if [ "$start" -ge 0 ]; then
      [ -z "$out" ] || out+=","
      if [ "$start" = "$last" ]; then out+="$start"; else out+="$start-$last"; fi
    fi
    start=$c
    last=$c
  done
  printf '%s' "$out"
}

# the hex mask of cpus[] in the format of the mask $1 (same digit count, 32-bit comma groups);
# fails when a CPU does not fit in that width (more CPUs than the kernel has)
mask_like() {
  local like=$1 digits i c out=""
  local -a nib=()
  like=${like//,/}
  digits=${#like}
  for ((i = 0; i < digits; i++)); do nib[i]=0; done
  for c in "${cpus[@]}"; do
    [ "$((c / 4))" -lt "$digits" ] || return 1
    nib[c / 4]=$((nib[c / 4] | (1 << (c % 4))))
  done
  for ((i = digits - 1; i >= 0; i--)); do
    out+=$(printf '%x' "${nib[i]}")
    if [ "$i" -gt 0 ] && [ "$((i % 8))" = 0 ]; then out+=","; fi
  done
  printf '%s' "$out"
}

# pids of live processes named irqbalance (a zombie keeps its name: not counted)
irqbalance_pids() {
  local f comm stat
  for f in "$procfs"/[0-9]*/comm; do
    [ -f "$f" ] || continue
    comm=$(cat -- "$f" 2>/dev/null) || continue
    [ "$comm" = irqbalance ] || continue
    f=${f%/comm}
    if stat=$(cat -- "$f/stat" 2>/dev/null); then
      stat=${stat##*) }
      [ "${stat%% *}" != Z ] || continue
    fi
    printf '%s\n' "${f##*/}"
  done
}

# a pid that is gone or a zombie
dead() {
  local stat
  kill -0 "$1" 2>/dev/null || return 0
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [ "${stat%% *}" = Z ]
}

all_dead() {
  local pid
  for pid in "$@"; do dead "$pid" || return 1; done
}

# stop_irqbalance how pid...: stopped and gone within 5 s
stop_irqbalance() {
  local how=$1 pid i
  shift
  case "$how" in
    systemctl) systemctl stop irqbalance >&2 || true ;;
    service) service irqbalance stop >&2 || true ;;
    kill) for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done ;;
  esac
  for ((i = 0; i < 50; i++)); do
    all_dead "$@" && return 0
    sleep 0.1
  done
  return 1
}

start_irqbalance() {
  local how=$1 b64=$2
  local -a argv
  case "$how" in
    systemctl) systemctl start irqbalance ;;
    service) service irqbalance start >&2 ;;
    kill)
      mapfile -d '' -t argv < <(printf '%s' "$b64" | base64 -d)
      if [ "${#argv[@]}" = 0 ] || [ ! -x "${argv[0]}" ]; then
        log "irqbalance's recorded command line '${argv[*]}' does not name an executable"
        return 1
      fi
      if command -v setsid >/dev/null; then
        setsid "${argv[@]}" </dev/null >/dev/null 2>&1 &
      else
        nohup "${argv[@]}" </dev/null >/dev/null 2>&1 &
      fi
      ;;
    *) return 1 ;;
  esac
}

# the record: irqbalance how, its command line, the default mask, irq number -> list
rec_how=""
rec_cmdline=""
rec_default=""
declare -A rec_irq=()
load_record() {
  local line k
  [ -f "$prev" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      irqbalance=*) rec_how=${line#*=} ;;
      irqbalance_cmdline=*) rec_cmdline=${line#*=} ;;
      default=*) rec_default=${line#*=} ;;
      'irq '*=*)
        k=${line%%=*}
        rec_irq[${k#irq }]=${line#*=}
        ;;
      '') ;;
      *) die "$prev: unexpected line '$line'; fix: check the interrupts by hand, then remove the file" ;;
    esac
  done <"$prev"
}

save_record() {
  local n
  mkdir -p -- "$state_dir"
  {
    printf 'irqbalance=%s\n' "$rec_how"
    [ -z "$rec_cmdline" ] || printf 'irqbalance_cmdline=%s\n' "$rec_cmdline"
    [ -z "$rec_default" ] || printf 'default=%s\n' "$rec_default"
    for n in $(printf '%s\n' "${!rec_irq[@]}" | sort -n); do
      printf 'irq %s=%s\n' "$n" "${rec_irq[$n]}"
    done
  } >"$prev.tmp"
  mv -f -- "$prev.tmp" "$prev"
}

# numbers of the interrupts with an affinity file, ascending
irq_numbers() {
  local d
  for d in "$irqdir"/[0-9]*; do
    [ -e "$d/smp_affinity_list" ] || continue
    printf '%s\n' "${d##*/}"
  done | sort -n
}

apply() {
  local want mask online n how="" cmdline_b64="" status=not-running
  local -a pids
  [ -n "${IRQ_CPUS:-}" ] || die "IRQ_CPUS is empty; fix: give the housekeeping CPUs, like IRQ_CPUS=0 or 0,2-3"
  parse_list "$IRQ_CPUS" || die "IRQ_CPUS='$IRQ_CPUS': $list_err"
  want=$(canonical_list)
  [ -f "$irqdir/default_smp_affinity" ] ||
    die "no $irqdir/default_smp_affinity: this kernel has no interrupt affinity control; fix: remove irqbalance from vhost-perf-lab:tuning.apply"
  if [ -f "$sysfs/devices/system/cpu/online" ]; then
    online=$(cat "$sysfs/devices/system/cpu/online")
    local -a want_cpus=("${cpus[@]}")
    parse_list "${online//[[:space:]]/}" || die "cannot parse $sysfs/devices/system/cpu/online: $list_err"
    local -A is_online=()
    for n in "${cpus[@]}"; do is_online[$n]=1; done
    for n in "${want_cpus[@]}"; do
      [ -n "${is_online[$n]:-}" ] ||
        die "IRQ_CPUS='$IRQ_CPUS' names CPU $n, which is not online here (online: $online); fix: choose housekeeping CPUs among $online"
    done
    cpus=("${want_cpus[@]}")
  fi
  read_value "$irqdir/default_smp_affinity" || die "cannot read $irqdir/default_smp_affinity: $read_err"
  local default_now=$value
  mask=$(mask_like "$default_now") ||
    die "IRQ_CPUS='$IRQ_CPUS' does not fit the kernel's CPU mask '$default_now'; fix: choose housekeeping CPUs this host has"

  refuse_if_held irqbalance
  load_record
  remember_record

  mapfile -t pids < <(irqbalance_pids)
  if [ "${#pids[@]}" -gt 0 ]; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
      how=systemctl
    elif command -v service >/dev/null && [ -x /etc/init.d/irqbalance ]; then
      how=service
    else
      how="kill"
      cmdline_b64=$(base64 -w0 <"$procfs/${pids[0]}/cmdline" 2>/dev/null) || cmdline_b64=""
    fi
  fi

  # the record first: everything this run may change, at its first touch
  [ -n "$rec_how" ] || rec_how=${how:-not-running}
  [ "$rec_how" != kill ] || [ -n "$rec_cmdline" ] || rec_cmdline=$cmdline_b64
  [ -n "$rec_default" ] || rec_default=$default_now
  local -a irqs
  local -A first_now=() # interrupts this run recorded first
  mapfile -t irqs < <(irq_numbers)
  for n in "${irqs[@]}"; do
    [ -z "${rec_irq[$n]:-}" ] || continue
    read_value "$irqdir/$n/smp_affinity_list" || {
      log "irq $n: cannot read its affinity ($read_err): left alone"
      continue
    }
    rec_irq[$n]=$value
    first_now[$n]=1
  done
  applying=1
  save_record

  if [ -n "$how" ]; then
    cmdline_now=$cmdline_b64
    stopped_now=$how
    log "stopping irqbalance (pid ${pids[*]}) with $how"
    stop_irqbalance "$how" "${pids[@]}" ||
      die "irqbalance (pid ${pids[*]}) did not stop with $how; fix: stop it by hand (or uninstall it), or remove irqbalance from vhost-perf-lab:tuning.apply"
    status=stopped
  elif [ "$rec_how" != not-running ]; then
    status=stopped # an earlier apply stopped it
  fi

  # each change goes on the undo stack before it is made: a signal right after it still finds it
  if [ "$default_now" != "$mask" ]; then
    undo_paths+=("$irqdir/default_smp_affinity")
    undo_vals+=("$default_now")
    if ! write_value "$irqdir/default_smp_affinity" "$mask"; then
      unset 'undo_paths[-1]' 'undo_vals[-1]'
      die "cannot write $mask to $irqdir/default_smp_affinity: $write_err; fix: check IRQ_CPUS='$IRQ_CPUS' against the online CPUs, or remove irqbalance from vhost-perf-lab:tuning.apply"
    fi
    log "default_smp_affinity: $default_now -> $mask"
  fi

  local moved=0 unmovable=0 f
  local -a refused=()
  for n in "${irqs[@]}"; do
    f="$irqdir/$n/smp_affinity_list"
    read_value "$f" || continue
    if [ "$value" = "$want" ]; then
      moved=$((moved + 1))
    else
      undo_paths+=("$f")
      undo_vals+=("$value")
      if write_value "$f" "$want"; then
        moved=$((moved + 1))
        continue
      fi
      unset 'undo_paths[-1]' 'undo_vals[-1]'
      unmovable=$((unmovable + 1))
      refused+=("$n ($write_err)")
      # never moved by the lab (first seen now): not this stack's to put back
      [ -z "${first_now[$n]:-}" ] || unset "rec_irq[$n]"
    fi
  done
  [ "${#refused[@]}" = 0 ] || save_record
  applying=0
  log "irqs on CPUs $want: $moved; unmovable (managed or per-CPU): $unmovable${refused[*]:+: ${refused[*]}}"
  printf '{"tuning":"irqbalance","action":"apply","cpus":"%s","irqbalance":"%s","moved":%s,"unmovable":%s}\n' \
    "$want" "$status" "$moved" "$unmovable"
}

revert() {
  if [ ! -f "$prev" ]; then
    log "nothing recorded in $prev: nothing to revert"
    printf '{"tuning":"irqbalance","action":"revert","restored":0,"irqbalance":"not-running"}\n'
    return
  fi
  load_record
  local restored=0 n f status=not-running left_default=""
  local -a failed=()
  local -A left=()
  if [ -n "$rec_default" ]; then
    f="$irqdir/default_smp_affinity"
    if read_value "$f" && [ "$value" = "$rec_default" ]; then
      restored=$((restored + 1))
    elif write_value "$f" "$rec_default"; then
      restored=$((restored + 1))
    else
      left_default=$rec_default
      failed+=("default_smp_affinity (to $rec_default: $write_err)")
    fi
  fi
  for n in $(printf '%s\n' "${!rec_irq[@]}" | sort -n); do
    f="$irqdir/$n/smp_affinity_list"
    [ -e "$f" ] || continue # gone since (a device removed): nothing to restore
    if read_value "$f" && [ "$value" = "${rec_irq[$n]}" ]; then
      restored=$((restored + 1))
    elif write_value "$f" "${rec_irq[$n]}"; then
      restored=$((restored + 1))
    else
      left[$n]=${rec_irq[$n]}
      failed+=("irq $n (to ${rec_irq[$n]}: $write_err)")
    fi
  done
  log "affinities restored: $restored, could not be restored: ${#failed[@]}"
  local start_failed=0
  case "$rec_how" in
    systemctl | service | kill)
      if [ -n "$(irqbalance_pids)" ]; then
        log "irqbalance runs already"
        status=started
      elif start_irqbalance "$rec_how" "$rec_cmdline"; then
        log "started irqbalance again ($rec_how)"
        status=started
      else
        start_failed=1
        log "WARNING: could not start irqbalance again ($rec_how): start it by hand"
      fi
      ;;
  esac
  if [ "${#failed[@]}" -gt 0 ]; then
    # keep exactly what was not restored, so a second revert can finish the job
    rec_default=$left_default
    rec_irq=()
    for n in "${!left[@]}"; do rec_irq[$n]=${left[$n]}; done
    if [ "$start_failed" = 0 ]; then
      rec_how=not-running
      rec_cmdline=""
    fi
    save_record
    die "could not restore the affinity of ${failed[*]}; fix: make the interrupts movable again (or set their smp_affinity_list by hand) and run revert again; what is left is in $prev"
  fi
  rm -f -- "$prev"
  printf '{"tuning":"irqbalance","action":"revert","restored":%s,"irqbalance":"%s"}\n' "$restored" "$status"
}

case "${1:-}" in
  apply) apply ;;
  revert) revert ;;
  *) die "usage: $0 apply|revert" ;;
esac
