/**
 * scripts/dut-facts.sh (read-only, the first step on every host) against fake /proc, /sys and
 * /dev trees (TUNING_PROCFS, TUNING_SYSFS, TUNING_DEVFS), and once on this machine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  has,
  noBash,
  noPython,
  ok,
  put,
  read,
  run,
  script,
  shellcheck,
  snapshot,
  withTmp,
} from "./scriptTestKit";

const FACTS = script("dut-facts.sh");
const skip = noBash || noPython;

test(
  "shellcheck -x scripts/dut-facts.sh is clean",
  { skip: !has("shellcheck") && "shellcheck missing" },
  () => shellcheck(FACTS),
);

function env(tree: string): Record<string, string> {
  return {
    TUNING_PROCFS: join(tree, "proc"),
    TUNING_SYSFS: join(tree, "sys"),
    TUNING_DEVFS: join(tree, "dev"),
  };
}

/** A 2-node host with 12 CPUs (some offline), 2M and 1G pools, three PCI functions. */
function factsTree(tree: string): void {
  put(tree, {
    "proc/meminfo": "MemTotal:       32768000 kB\nMemFree:         1024000 kB\nMemAvailable:   20480000 kB\n",
    "proc/mounts": "proc /proc proc rw 0 0\nnodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n",
    "proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme sse2 vmx\n",
    "proc/cmdline": "ro quiet isolcpus=2-5\n",
    "proc/1/comm": "systemd\n",
    "proc/sys/kernel/random/boot_id": "0f6a3c9e-6b1f-4b55-9a57-2f7fd9d1e2a4\n",
    "sys/devices/system/cpu/online": "0-5,8,10-11\n",
    "sys/devices/system/node/online": "0-1\n",
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "1024\n",
    "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "1000\n",
    "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "4\n",
    "sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": "2\n",
    "dev/kvm": "",
  });
  for (const pci of ["0000:3b:00.1", "0000:00:00.0", "0000:3b:00.0"])
    mkdirSync(join(tree, "sys/bus/pci/devices", pci), { recursive: true });
}

test(
  "dut-facts.sh reports CPUs, NUMA nodes, memory, hugepage pools, PCI addresses and the boot id from the trees it is given",
  { skip },
  () =>
    withTmp(({ tree }) => {
      factsTree(tree);
      const pristine = snapshot(tree);
      const f = ok(run(FACTS, "", env(tree)));
      const { hostname, kernel, cpus, ...rest } = f;
      assert.equal(typeof hostname, "string");
      assert.equal(typeof kernel, "string");
      assert.equal(typeof cpus, "number");
      assert.deepEqual(rest, {
        cpusOnline: "0-5,8,10-11",
        cpusOnlineList: [0, 1, 2, 3, 4, 5, 8, 10, 11],
        numaNodes: "0-1",
        numaNodeList: [0, 1],
        memoryMiB: 32000,
        memTotalMiB: 32000,
        memAvailableMiB: 20000,
        hugepages: { "2048kB": { total: 1024, free: 1000 }, "1048576kB": { total: 4, free: 2 } },
        hugepageSizesKiB: [2048, 1048576],
        hugepagesFreeBySizeKiB: { "2048": 1000, "1048576": 2 },
        hugetlbfsMounts: ["/dev/hugepages"],
        pciAddresses: ["0000:00:00.0", "0000:3b:00.0", "0000:3b:00.1"],
        bootId: "0f6a3c9e-6b1f-4b55-9a57-2f7fd9d1e2a4",
        kvmUsable: true,
        kvmReason: "kvm available",
        systemd: true,
        cmdline: "ro quiet isolcpus=2-5",
      });
      assert.deepEqual(snapshot(tree), pristine, "read-only");
    }),
);

test(
  "dut-facts.sh on a small host: no NUMA directory is node [0], no pools, no PCI bus, no MemAvailable (MemFree), no KVM",
  { skip },
  () =>
    withTmp(({ tree }) => {
      put(tree, {
        "proc/meminfo": "MemTotal:       2048000 kB\nMemFree:         512000 kB\n",
        "proc/mounts": "",
        "proc/cpuinfo": "flags\t\t: fpu sse2\n",
        "proc/1/comm": "init\n",
        "sys/devices/system/cpu/online": "0\n",
      });
      mkdirSync(join(tree, "dev"));
      const f = ok(run(FACTS, "", env(tree)));
      assert.deepEqual(
        {
          cpusOnlineList: f.cpusOnlineList,
          numaNodes: f.numaNodes,
          numaNodeList: f.numaNodeList,
          memTotalMiB: f.memTotalMiB,
          memAvailableMiB: f.memAvailableMiB,
          hugepages: f.hugepages,
          hugepageSizesKiB: f.hugepageSizesKiB,
          hugepagesFreeBySizeKiB: f.hugepagesFreeBySizeKiB,
          pciAddresses: f.pciAddresses,
          bootId: f.bootId,
          kvmUsable: f.kvmUsable,
          kvmReason: f.kvmReason,
          systemd: f.systemd,
        },
        {
          cpusOnlineList: [0],
          numaNodes: "0",
          numaNodeList: [0],
          memTotalMiB: 2000,
          memAvailableMiB: 500,
          hugepages: {},
          hugepageSizesKiB: [],
          hugepagesFreeBySizeKiB: {},
          pciAddresses: [],
          bootId: "",
          kvmUsable: false,
          kvmReason: "no /dev/kvm",
          systemd: false,
        },
      );
      // a /dev/kvm of kvm-pvm, and one without vmx/svm
      put(tree, { "dev/kvm": "" });
      mkdirSync(join(tree, "sys/module/kvm_pvm"), { recursive: true });
      assert.equal(
        ok(run(FACTS, "", env(tree))).kvmReason,
        "/dev/kvm is kvm-pvm (software nested virtualisation)",
      );
      // without kvm_pvm (another sys tree): the CPU flags decide
      const noVmx = { ...env(tree), TUNING_SYSFS: join(tree, "sys-none") };
      assert.equal(ok(run(FACTS, "", noVmx)).kvmReason, "the CPU has no vmx/svm flag");
    }),
);

test("dut-facts.sh on this machine: the new fields agree with /proc and /sys", { skip }, () => {
  const f = ok(run(FACTS, "", {}));
  assert.equal(f.bootId, read("/proc/sys/kernel/random/boot_id").trim());
  assert.ok(Array.isArray(f.cpusOnlineList) && (f.cpusOnlineList as number[]).length > 0);
  assert.equal(f.cpusOnline, read("/sys/devices/system/cpu/online").trim());
  assert.ok(Array.isArray(f.numaNodeList) && (f.numaNodeList as number[]).includes(0));
  assert.ok((f.memTotalMiB as number) > 0 && (f.memAvailableMiB as number) <= (f.memTotalMiB as number));
  const pools = existsSync("/sys/kernel/mm/hugepages")
    ? readdirSync("/sys/kernel/mm/hugepages")
        .map((d) => Number(/^hugepages-(\d+)kB$/.exec(d)?.[1]))
        .filter((n) => n > 0)
        .sort((a, b) => a - b)
    : [];
  assert.deepEqual(f.hugepageSizesKiB, pools);
  assert.deepEqual(Object.keys(f.hugepagesFreeBySizeKiB as object).sort(), pools.map(String).sort());
  const pci = existsSync("/sys/bus/pci/devices") ? readdirSync("/sys/bus/pci/devices").sort() : [];
  assert.deepEqual(f.pciAddresses, pci);
});
