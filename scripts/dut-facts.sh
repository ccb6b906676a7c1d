#!/usr/bin/env bash
# Gather the facts of a DUT host as one JSON line: CPUs, NUMA, memory, kernel, hugepages,
# and whether KVM can really run a guest here (a /dev/kvm alone proves nothing: a software
# nested layer such as kvm-pvm cannot boot a normal guest kernel). Changes nothing.
set -euo pipefail

kvm_reason() {
  [ -e /dev/kvm ] || { echo "no /dev/kvm"; return; }
  [ -d /sys/module/kvm_pvm ] && { echo "/dev/kvm is kvm-pvm (software nested virtualisation)"; return; }
  grep -q -w -E 'vmx|svm' /proc/cpuinfo || { echo "the CPU has no vmx/svm flag"; return; }
  echo ""
}

hugepages_json() {
  local d size first=1
  printf '{'
  for d in /sys/kernel/mm/hugepages/hugepages-*kB; do
    [ -d "$d" ] || continue
    size=${d##*hugepages-}
    [ $first = 1 ] || printf ','
    first=0
    printf '"%s":{"total":%s,"free":%s}' "$size" "$(cat "$d/nr_hugepages")" "$(cat "$d/free_hugepages")"
  done
  printf '}'
}

reason=$(kvm_reason)
kvm_usable=false
[ -z "$reason" ] && kvm_usable=true
python3 - "$reason" "$kvm_usable" "$(hugepages_json)" <<'PY'
import json, os, platform, sys
reason, usable, huge = sys.argv[1], sys.argv[2] == "true", json.loads(sys.argv[3])
def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default
mem_kib = next((int(l.split()[1]) for l in read("/proc/meminfo").splitlines() if l.startswith("MemTotal:")), 0)
mounts = [l.split()[1] for l in read("/proc/mounts").splitlines() if l.split()[2:3] == ["hugetlbfs"]]
print(json.dumps({
    "hostname": platform.node(),
    "kernel": platform.release(),
    "cpus": os.cpu_count(),
    "cpusOnline": read("/sys/devices/system/cpu/online"),
    "numaNodes": read("/sys/devices/system/node/online", "0"),
    "memoryMiB": mem_kib // 1024,
    "hugepages": huge,
    "hugetlbfsMounts": mounts,
    "kvmUsable": usable,
    "kvmReason": reason or "kvm available",
    "systemd": read("/proc/1/comm") == "systemd",
    "cmdline": read("/proc/cmdline"),
}, sort_keys=True))
PY
