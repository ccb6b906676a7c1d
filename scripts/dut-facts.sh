#!/usr/bin/env bash
# Gather the facts of a DUT host as one JSON line: CPUs, NUMA, memory, kernel, hugepages, PCI
# devices, boot id, and whether KVM can really run a guest here (a /dev/kvm alone proves
# nothing: a software nested layer such as kvm-pvm cannot boot a normal guest kernel).
# Changes nothing; the first step on every host.
#
# Environment (tests point these at fake trees):
#   TUNING_PROCFS  the proc tree (default /proc): meminfo, mounts, cpuinfo, cmdline, 1/comm,
#                  sys/kernel/random/boot_id
#   TUNING_SYSFS   the sys tree (default /sys): devices/system/cpu/online,
#                  devices/system/node/online, kernel/mm/hugepages, bus/pci/devices, module/kvm_pvm
#   TUNING_DEVFS   the dev tree (default /dev): kvm
#
# stdout, one JSON line (keys sorted):
#   hostname, kernel, cpus (os.cpu_count()), cmdline, systemd,
#   cpusOnline "0-1" and cpusOnlineList [0,1]        devices/system/cpu/online ([] when absent)
#   numaNodes "0" and numaNodeList [0]               devices/system/node/online ([0] when absent)
#   memoryMiB = memTotalMiB, memAvailableMiB          /proc/meminfo (MemAvailable, else MemFree)
#   hugepages {"2048kB":{"total":n,"free":n}}, hugepageSizesKiB [2048,...] (ascending),
#   hugepagesFreeBySizeKiB {"2048":n,...}, hugetlbfsMounts [paths]
#   pciAddresses ["0000:00:01.0",...]                 every bus/pci/devices entry, sorted
#   bootId                                            /proc/sys/kernel/random/boot_id ("" when absent)
#   kvmUsable, kvmReason
set -euo pipefail
trap ':' PIPE # a broken stderr must not kill the script (stdout is a file)

export FACTS_PROCFS=${TUNING_PROCFS:-/proc}
export FACTS_SYSFS=${TUNING_SYSFS:-/sys}
export FACTS_DEVFS=${TUNING_DEVFS:-/dev}

exec python3 - <<'PY'
import json, os, platform, re

proc, sys_, dev = (os.environ[k] for k in ("FACTS_PROCFS", "FACTS_SYSFS", "FACTS_DEVFS"))

def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default

def parse_list(text):
    """A kernel list such as "0-3,8,10-11" as numbers, ascending; [] when not one."""
    out = set()
    text = re.sub(r"\s+", "", text)
    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text):
        return []
    for part in text.split(","):
        a, _, b = part.partition("-")
        lo, hi = int(a), int(b or a)
        if hi - lo > 65536:
            return []
        out.update(range(lo, hi + 1))
    return sorted(out)

def kvm_reason():
    if not os.path.exists(os.path.join(dev, "kvm")):
        return "no /dev/kvm"
    if os.path.isdir(os.path.join(sys_, "module/kvm_pvm")):
        return "/dev/kvm is kvm-pvm (software nested virtualisation)"
    flags = set()
    for line in read(os.path.join(proc, "cpuinfo")).splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    if not flags & {"vmx", "svm"}:
        return "the CPU has no vmx/svm flag"
    return ""

def meminfo_kib(name):
    for line in read(os.path.join(proc, "meminfo")).splitlines():
        if line.startswith(name + ":"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None

huge_dir = os.path.join(sys_, "kernel/mm/hugepages")
hugepages = {}
try:
    names = os.listdir(huge_dir)
except OSError:
    names = []
for name in names:
    m = re.fullmatch(r"hugepages-(\d+)kB", name)
    if not m or not os.path.isdir(os.path.join(huge_dir, name)):
        continue
    pool = os.path.join(huge_dir, name)
    num = lambda f: int(read(os.path.join(pool, f), "0") or 0)
    hugepages[int(m.group(1))] = {"total": num("nr_hugepages"), "free": num("free_hugepages")}
sizes = sorted(hugepages)

try:
    pci = sorted(os.listdir(os.path.join(sys_, "bus/pci/devices")))
except OSError:
    pci = []

mem_total = meminfo_kib("MemTotal") or 0
mem_avail = meminfo_kib("MemAvailable")
if mem_avail is None:
    mem_avail = meminfo_kib("MemFree") or 0
mounts = [l.split()[1] for l in read(os.path.join(proc, "mounts")).splitlines() if l.split()[2:3] == ["hugetlbfs"]]
cpus_online = read(os.path.join(sys_, "devices/system/cpu/online"))
nodes_path = os.path.join(sys_, "devices/system/node/online")
numa_nodes = read(nodes_path, "0")
reason = kvm_reason()
print(json.dumps({
    "hostname": platform.node(),
    "kernel": platform.release(),
    "cpus": os.cpu_count(),
    "cpusOnline": cpus_online,
    "cpusOnlineList": parse_list(cpus_online),
    "numaNodes": numa_nodes,
    "numaNodeList": parse_list(numa_nodes) if os.path.exists(nodes_path) else [0],
    "memoryMiB": mem_total // 1024,
    "memTotalMiB": mem_total // 1024,
    "memAvailableMiB": mem_avail // 1024,
    "hugepages": {f"{k}kB": v for k, v in sorted(hugepages.items())},
    "hugepageSizesKiB": sizes,
    "hugepagesFreeBySizeKiB": {str(k): hugepages[k]["free"] for k in sizes},
    "hugetlbfsMounts": mounts,
    "pciAddresses": pci,
    "bootId": read(os.path.join(proc, "sys/kernel/random/boot_id")),
    "kvmUsable": reason == "",
    "kvmReason": reason or "kvm available",
    "systemd": read(os.path.join(proc, "1/comm")) == "systemd",
    "cmdline": read(os.path.join(proc, "cmdline")),
}, sort_keys=True))
PY
