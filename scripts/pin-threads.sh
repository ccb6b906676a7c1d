#!/usr/bin/env bash
# Pin the threads of one process, CSIT style: the data-plane threads (comm matching PIN_PATTERN,
# e.g. QEMU's "CPU 0/TCG" with -name ...,debug-threads=on) to PIN_CPUS, every other thread of
# the process to PIN_OTHER_CPUS (housekeeping). Prints one JSON line with what was pinned.
#
# Environment: PIN_PIDFILE (or PIN_PID), PIN_PATTERN (extended regex on /proc/<pid>/task/*/comm),
#              PIN_CPUS (cpu list, e.g. "1" or "2-4"), PIN_OTHER_CPUS (optional cpu list).
# Nothing to undo: the pinning ends with the process.
# Exit codes: 0 pinned; 1 no such process, bad input, or no thread matches PIN_PATTERN.
set -euo pipefail

die() { printf '[pin] ERROR: %s\n' "$*" >&2; exit 1; }

pid=${PIN_PID:-}
if [ -z "$pid" ] && [ -n "${PIN_PIDFILE:-}" ]; then
  pid=$(tr -dc '0-9' <"$PIN_PIDFILE" 2>/dev/null || true)
fi
[[ "$pid" =~ ^[0-9]+$ ]] || die "no process id (PIN_PID or a readable PIN_PIDFILE)"
[ -d "/proc/$pid" ] || die "process $pid is not running"
pattern=${PIN_PATTERN:?PIN_PATTERN is required}
cpus=${PIN_CPUS:?PIN_CPUS is required}
other=${PIN_OTHER_CPUS:-}
# CPU lists only ("1", "2-4", "0,2-3"): never taken for an option of taskset
cpulist='^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$'
[[ "$cpus" =~ $cpulist ]] || die "PIN_CPUS '$cpus' is not a CPU list (e.g. 1, 2-4, 0,2-3)"
[ -z "$other" ] || [[ "$other" =~ $cpulist ]] || die "PIN_OTHER_CPUS '$other' is not a CPU list (e.g. 0, 0-1)"

pinned=()
others=()
for task in /proc/"$pid"/task/*; do
  tid=${task##*/}
  comm=$(cat "$task/comm" 2>/dev/null) || continue
  if [[ "$comm" =~ $pattern ]]; then
    taskset -pc "$cpus" "$tid" >/dev/null
    pinned+=("$tid")
    printf '[pin] %s (%s) -> CPUs %s\n' "$tid" "$comm" "$cpus" >&2
  elif [ -n "$other" ]; then
    taskset -pc "$other" "$tid" >/dev/null 2>&1 || true
    others+=("$tid")
  fi
done
[ ${#pinned[@]} -gt 0 ] || die "no thread of process $pid matches /$pattern/"
printf '{"pid":%s,"cpus":"%s","pinned":[%s],"others":%s}\n' "$pid" "$cpus" \
  "$(IFS=,; echo "${pinned[*]}")" "${#others[@]}"
