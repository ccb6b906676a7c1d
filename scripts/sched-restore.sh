#!/usr/bin/env bash
# sched-restore.sh: puts back what the benchmark runner (bin/bench-runner.ts) changed on this
# host, from the record the runner writes here BEFORE it changes anything:
# $LAB_RUN_DIR/sched.record. The runner ships this script for its own reverts (after every
# cfsrr1 cell, and when interrupted), so there is one restore; the Benchmark component's guard
# step runs it too, for a runner that could not restore (SIGKILL, a lost connection, a crash).
#
#   sched-restore.sh restore  restore what the record lists (each thread's policy and priority,
#                             then the RT runtime), then remove the record
#   sched-restore.sh stop-trial
#                             stop the running trafgen trial (its processes and its pacing
#                             qdisc) and remove the runner's trafgen files ($LAB_RUN_DIR/trafgen)
#   sched-restore.sh check    the guard's up (before a run): restore a record left by a killed
#                             run and stop-trial; reports whether anything was stale
#   sched-restore.sh down     the guard's down (pulumi destroy): the same as check
#
# The record (written to a temporary file and renamed into place, one item per line):
#   vhost-perf-lab-sched-record 1
#   runtime sysctl <kernel.sched_rt_runtime_us before>
#   runtime cgroup <the root group's cpu.rt_runtime_us file> <its value before>
#   thread <pid> <tid> <start time> <SCHED_OTHER|SCHED_BATCH|SCHED_IDLE|SCHED_FIFO|SCHED_RR> <priority>
# A thread that is gone, or whose TID now belongs to another thread (start time differs), is
# skipped: it is nobody's RT thread any more. The runtime is restored after the threads, the
# global sysctl before the root group (a kernel with RT_GROUP_SCHED refuses the other order).
# The trial file ($LAB_RUN_DIR/trafgen/trial.pid): "<pid> <start time>" per process of the
# running trial, and "qdisc <netns> <dev>" for each pacing qdisc on a TG port (netns "-": the
# trial ran in the caller's own namespace, e.g. the 2-node local lab's TG host).
#
# Environment: LAB_RUN_DIR (/run/vhost-perf-lab/<stack>, from scripts/lib/step.sh or the runner).
# Output: one JSON line. Exit 0 when everything listed is back (the record is gone), 1 when
# something could not be restored (the record stays, so a later call tries again), 2 on misuse.
set -euo pipefail

say() { printf '[sched-restore] %s\n' "$*" >&2; }
usage() {
  say "usage: sched-restore.sh restore|stop-trial|check|down   (LAB_RUN_DIR=/run/vhost-perf-lab/<stack>)"
  exit 2
}

verb=${1:-}
case "$verb" in restore | stop-trial | check | down) ;; *) usage ;; esac
run_dir=${LAB_RUN_DIR:-}
if [[ ! "$run_dir" =~ ^/[A-Za-z0-9_./-]+$ || "$run_dir" == *..* || "$run_dir" == / ]]; then
  say "ERROR: LAB_RUN_DIR='$run_dir' is not the stack's run directory (run through scripts/lib/step.sh)"
  exit 2
fi
readonly record=$run_dir/sched.record
readonly trial_file=$run_dir/trafgen/trial.pid
readonly RUNTIME=/proc/sys/kernel/sched_rt_runtime_us
readonly CGROUP_FILES=(/sys/fs/cgroup/cpu/cpu.rt_runtime_us "/sys/fs/cgroup/cpu,cpuacct/cpu.rt_runtime_us")

# Reading /proc with builtins only: while RR pollers hold their CPUs, every fork is slow, and an
# interrupted runner has 3 s for all of this.
# stat_fields <stat file>: fields := the fields after "pid (comm) " (fields[0] = field 3, state;
# fields[19] = field 22, start time in clock ticks since boot)
fields=()
stat_fields() {
  local line
  { IFS= read -r line <"$1"; } 2>/dev/null || return 1
  read -r -a fields <<<"${line##*) }"
  [ "${#fields[@]}" -ge 20 ]
}

# is process $1 still the one that started at $2 (and not a zombie)?
alive() {
  stat_fields "/proc/$1/stat" && [ "${fields[0]}" != Z ] && [ "${fields[19]}" = "$2" ]
}

json_num_or_null() { if [ -n "$1" ]; then printf '%s' "$1"; else printf 'null'; fi; }

restored=0 gone=0 failed=0 found=false sysctl_value="" cgroup_value=""
opts=()

# opts := the chrt options that put a thread back into policy $1 with priority $2
chrt_opts() {
  case "$1" in
    SCHED_OTHER | SCHED_DEADLINE) opts=(-o -p 0) ;; # deadline parameters are not recorded: CFS
    SCHED_BATCH) opts=(-b -p 0) ;;
    SCHED_IDLE) opts=(-i -p 0) ;;
    SCHED_FIFO) opts=(-f -p "$2") ;;
    SCHED_RR) opts=(-r -p "$2") ;;
    *) return 1 ;;
  esac
}

restore_thread() {
  local pid=$1 tid=$2 start=$3 policy=$4 prio=$5 task
  task=/proc/$pid/task/$tid
  if ! stat_fields "$task/stat" || [ "${fields[19]}" != "$start" ]; then
    gone=$((gone + 1))
    return 0
  fi
  if chrt "${opts[@]}" "$tid" 2>/dev/null; then
    restored=$((restored + 1))
  elif [ ! -d "$task" ]; then
    gone=$((gone + 1)) # ended between the check and chrt
  else
    say "could not put thread $tid (pid $pid) back to $policy/$prio"
    failed=$((failed + 1))
  fi
}

write_value() { # $1 file, $2 value
  if ! printf '%s\n' "$2" >"$1" 2>/dev/null; then
    say "could not write $2 to $1"
    failed=$((failed + 1))
    return 1
  fi
}

restore_record() {
  # a record being written when its writer was killed never took effect: drop it
  rm -f -- "$record".tmp.*
  [ -e "$record" ] || return 0
  found=true
  local header kind a b c d e n=1 sysctl="" cgroup_file="" cgroup=""
  exec 3<"$record"
  IFS= read -r header <&3 || header=""
  if [ "$header" != "vhost-perf-lab-sched-record 1" ]; then
    exec 3<&-
    say "$record is not a scheduling record this script knows (first line: '${header:0:60}'); left in place"
    failed=$((failed + 1))
    return 0
  fi
  # threads first (the RR pollers stop hogging their CPUs), then the RT runtime
  while read -r kind a b c d e <&3; do
    n=$((n + 1))
    case "$kind" in
      thread)
        if [[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ && "$c" =~ ^[0-9]+$ && "$e" =~ ^[0-9]+$ ]] && chrt_opts "$d" "$e"; then
          restore_thread "$a" "$b" "$c" "$d" "$e"
        else
          say "line $n of $record is not a thread record: '$kind $a $b $c $d $e'"
          failed=$((failed + 1))
        fi
        ;;
      runtime)
        if [ "$a" = sysctl ] && [[ "$b" =~ ^-?[0-9]+$ ]]; then
          sysctl=$b
        elif [ "$a" = cgroup ] && [[ "$c" =~ ^-?[0-9]+$ ]] && [[ " ${CGROUP_FILES[*]} " == *" $b "* ]]; then
          cgroup_file=$b cgroup=$c
        else
          say "line $n of $record is not a runtime record: '$kind $a $b $c'"
          failed=$((failed + 1))
        fi
        ;;
      '') ;;
      *)
        say "line $n of $record is unknown: '$kind'"
        failed=$((failed + 1))
        ;;
    esac
  done
  exec 3<&-
  if [ -n "$sysctl" ] && write_value "$RUNTIME" "$sysctl"; then sysctl_value=$sysctl; fi
  if [ -n "$cgroup_file" ] && write_value "$cgroup_file" "$cgroup"; then cgroup_value=$cgroup; fi
  if [ "$failed" -eq 0 ]; then
    rm -f -- "$record"
  else
    say "kept $record: $failed item(s) could not be restored; run this again once fixed"
  fi
}

trial_stopped=0 qdisc_removed=false files_removed=false

# the trafgen trial a killed runner left: its processes, its pacing qdisc, its files
stop_trial() {
  local dir=${trial_file%/*} first second third i k left
  local pids=() starts=()
  if [ -f "$trial_file" ]; then
    local qdiscs=() q ns dev
    while read -r first second third; do
      if [ "$first" = qdisc ]; then
        if [[ "$second" =~ ^[A-Za-z0-9_.-]{1,64}$ && "$third" =~ ^[A-Za-z0-9_.-]{1,15}$ ]]; then
          qdiscs+=("$second $third")
        fi
      elif [[ "$first" =~ ^[0-9]+$ && "$second" =~ ^[0-9]+$ ]] && alive "$first" "$second"; then
        pids+=("$first") starts+=("$second")
      fi
    done <"$trial_file"
    if [ "${#pids[@]}" -gt 0 ]; then
      kill -TERM "${pids[@]}" 2>/dev/null || true
      trial_stopped=${#pids[@]}
      for ((i = 0; i < 20; i++)); do
        left=0
        for k in "${!pids[@]}"; do alive "${pids[$k]}" "${starts[$k]}" && left=1; done
        [ "$left" -eq 1 ] || break
        sleep 0.1
      done
      for k in "${!pids[@]}"; do
        if alive "${pids[$k]}" "${starts[$k]}"; then kill -KILL "${pids[$k]}" 2>/dev/null || true; fi
      done
    fi
    # "qdisc <netns> <dev>" per paced port; netns "-": the trial ran in this namespace
    for q in "${qdiscs[@]}"; do
      read -r ns dev <<<"$q"
      local in_ns=()
      [ "$ns" = - ] || in_ns=(ip netns exec "$ns")
      if "${in_ns[@]}" tc qdisc show dev "$dev" root 2>/dev/null | grep -q '^qdisc tbf'; then
        "${in_ns[@]}" tc qdisc del dev "$dev" root 2>/dev/null && qdisc_removed=true
      fi
    done
  fi
  if [ -d "$dir" ]; then
    rm -rf -- "$dir" && files_removed=true
  fi
}

trial_json() {
  printf '"trial":{"stopped":%d,"qdiscRemoved":%s,"filesRemoved":%s}' "$trial_stopped" "$qdisc_removed" "$files_removed"
}

if [ "$verb" = stop-trial ]; then
  stop_trial
  printf '{"verb":"stop-trial",%s}\n' "$(trial_json)"
  exit 0
fi
restore_record
if [ "$verb" = restore ]; then
  printf '{"verb":"restore","record":"%s","found":%s,"threads":{"restored":%d,"gone":%d},"failed":%d,"rtRuntimeUs":%s,"cgroupRtRuntimeUs":%s}\n' \
    "$record" "$found" "$restored" "$gone" "$failed" "$(json_num_or_null "$sysctl_value")" "$(json_num_or_null "$cgroup_value")"
else
  stop_trial
  stale=$found
  if [ "$trial_stopped" -gt 0 ] || [ "$qdisc_removed" = true ] || [ "$files_removed" = true ]; then stale=true; fi
  printf '{"verb":"%s","stale":%s,"record":"%s","found":%s,"threads":{"restored":%d,"gone":%d},"failed":%d,"rtRuntimeUs":%s,"cgroupRtRuntimeUs":%s,%s}\n' \
    "$verb" "$stale" "$record" "$found" "$restored" "$gone" "$failed" "$(json_num_or_null "$sysctl_value")" \
    "$(json_num_or_null "$cgroup_value")" "$(trial_json)"
  if [ "$stale" = true ]; then
    say "a killed benchmark run had left: record=$found, trial processes=$trial_stopped, qdisc=$qdisc_removed, files=$files_removed (restored/removed)"
  fi
fi
[ "$failed" -eq 0 ] || exit 1
