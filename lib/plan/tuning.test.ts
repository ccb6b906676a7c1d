import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { loadStackFile, parseLab, type Lab } from "../lab";
import { planTuning, sysctlScriptInput, sysctlSettings } from "./tuning";
import { repoRoot } from "../../tests/support/repo";

function lab(file: string): Lab {
  const loaded = loadStackFile(path.join(repoRoot(), file));
  assert.deepEqual(loaded.errors, []);
  const r = parseLab(loaded.config, file);
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.lab;
}

test("perf lab: every runtime tuning planned, the cmdline ones reported as needing a reboot", () => {
  const perf = lab("Pulumi.perf.yaml");
  const dut = perf.hosts.find((h) => h.roles.includes("dut"))!;
  const plan = planTuning(dut, perf.tuning);
  assert.ok(plan.sysctl);
  assert.equal(plan.irqCpus, "0");
  assert.equal(plan.governor, "performance");
  assert.equal(plan.turboOff, true);
  assert.deepEqual(plan.needsReboot, ["isolcpus", "kernel-args"]);
});

test("sysctl: pool-sized shmmax and map count (raised only), watchdog on housekeeping CPUs", () => {
  const perf = lab("Pulumi.perf.yaml");
  const dut = perf.hosts.find((h) => h.roles.includes("dut"))!;
  const host = {
    ...dut,
    hugepages: { size: "1G" as const, count: 16 },
    cpus: { ...dut.cpus, housekeeping: [0, 1, 2, 8] },
  };
  const byKey = Object.fromEntries(sysctlSettings(host).map((s) => [s.key, s]));
  assert.deepEqual(byKey["kernel.shmmax"], {
    key: "kernel.shmmax",
    value: String(16 * 2 ** 30),
    atLeast: true,
  });
  assert.deepEqual(byKey["vm.max_map_count"], { key: "vm.max_map_count", value: "64", atLeast: true });
  assert.equal(byKey["kernel.watchdog_cpumask"]?.value, "0-2,8");
  assert.equal(byKey["vm.swappiness"]?.value, "0");
  assert.equal(byKey["kernel.randomize_va_space"]?.value, "0");
  // big pools: no float rounding in the byte count
  const huge = sysctlSettings({ ...host, hugepages: { size: "1G", count: 9_000_000 } });
  assert.equal(huge.find((s) => s.key === "kernel.shmmax")?.value, (9_000_000n * 2n ** 30n).toString());
});

test("sysctl script input: one key per line, >= for raise-only settings", () => {
  assert.equal(
    sysctlScriptInput([
      { key: "vm.max_map_count", value: "6144", atLeast: true },
      { key: "vm.swappiness", value: "0", atLeast: false },
    ]),
    "vm.max_map_count>=6144\nvm.swappiness=0",
  );
});

test("local lab: only what its tuning.apply lists", () => {
  const local = lab("Pulumi.local.yaml");
  const host = local.hosts[0]!;
  const none = planTuning(host, { ...local.tuning, apply: ["hugepages"] });
  assert.deepEqual(none, {
    sysctl: undefined,
    irqCpus: undefined,
    governor: undefined,
    turboOff: false,
    needsReboot: [],
  });
  const some = planTuning(host, { ...local.tuning, apply: ["sysctl", "irqbalance"] });
  assert.equal(some.irqCpus, "0");
  assert.equal(some.sysctl?.find((s) => s.key === "kernel.watchdog_cpumask")?.value, "0");
});
