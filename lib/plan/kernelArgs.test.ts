import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCpuList, type Host, type Tuning } from "../lab";
import { isolatedCpus, missingArgs, planKernelArgs } from "./kernelArgs";

const host = (count: number, housekeeping: number[], size: "2M" | "1G" = "2M", pages = 0): Host =>
  ({ name: "dut1", cpus: { count, housekeeping }, hugepages: { size, count: pages } }) as unknown as Host;
const tuning = (apply: Tuning["apply"], kernelArgs: string[] = []): Tuning => ({
  apply,
  kernelArgs,
  reboot: { allowed: true, timeoutS: 600 },
});

test("isolcpus, nohz_full and rcu_nocbs get every CPU but housekeeping; extra args follow", () => {
  const p = planKernelArgs(host(16, [0]), tuning(["isolcpus", "kernel-args"], ["iommu=pt", "audit=0"]));
  assert.deepEqual(p?.args, ["isolcpus=1-15", "nohz_full=1-15", "rcu_nocbs=1-15", "iommu=pt", "audit=0"]);
  assert.equal(p?.isolated, "1-15");
  assert.equal(planKernelArgs(host(16, [0]), tuning(["hugepages", "sysctl"])), undefined);
  assert.deepEqual(planKernelArgs(host(4, [0]), tuning(["kernel-args"], ["audit=0"]))?.isolated, "");
});

test("1G hugepages go on the command line with kernel-args, else they stay runtime", () => {
  const p = planKernelArgs(host(8, [0], "1G", 16), tuning(["kernel-args", "hugepages"]));
  assert.deepEqual(p?.args, ["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=16"]);
  assert.equal(p?.hugepagesOnCmdline, true);
  assert.equal(
    planKernelArgs(host(8, [0], "1G", 16), tuning(["isolcpus", "hugepages"]))?.hugepagesOnCmdline,
    false,
  );
  assert.equal(planKernelArgs(host(8, [0], "2M", 16), tuning(["kernel-args", "hugepages"]))?.args.length, 0);
});

test("property: the isolated list and housekeeping partition the CPUs", () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 256 })
        .chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
          ),
        ),
      ([n, hk]) => {
        const housekeeping = [...hk].sort((a, b) => a - b);
        const p = planKernelArgs(host(n, housekeeping), tuning(["isolcpus"]));
        const iso = isolatedCpus(host(n, housekeeping));
        assert.equal(iso.length + housekeeping.length, n);
        for (const c of housekeeping) assert.ok(!iso.includes(c));
        if (iso.length === 0) return assert.deepEqual(p?.args, []);
        const parsed = parseCpuList(p!.isolated);
        assert.ok(parsed.ok);
        assert.deepEqual(parsed.cpus, iso);
      },
    ),
  );
});

test("missingArgs compares whole words", () => {
  assert.deepEqual(missingArgs("ro intel_iommu=pt quiet", ["iommu=pt", "quiet"]), ["iommu=pt"]);
  assert.deepEqual(missingArgs("BOOT_IMAGE=/v ro isolcpus=1 ", ["isolcpus=1"]), []);
});
