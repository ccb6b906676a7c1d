/** Shared test data for lib/results: a small plan and the setup facts of a local lab. */
import { parsePlan, type BenchPlan } from "../bench/plan";
import type { SetupFacts } from "./types";

export function testPlan(over: Record<string, unknown> = {}): BenchPlan {
  return parsePlan({
    name: "fake",
    stack: "fake",
    hosts: { lab: { transport: "local" } },
    dut: {
      host: "lab",
      vswitch: { pidFile: "/run/vs.pid" },
      vms: [{ pidFile: "/run/vm1.pid" }],
      housekeepingCpus: [0],
    },
    tg: { kind: "trafgen", host: "lab" },
    matrix: { frames: [64], vringSizes: [1024], policies: ["cfs", "cfsrr1"], tests: ["mrr", "ndrpdr"] },
    mrr: { trials: 3, trialDurationS: 1, maxLoadPps: 20000 },
    ndrpdr: { durationSumS: 3, timeLimitS: 60 },
    ...over,
  });
}

export const SETUP: SetupFacts = {
  kernel: "6.1.0-28-amd64",
  cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/vda1",
  qemu: { version: "7.2.15", patches: ["0001-virtio-pci-msix-tcg.patch"] },
  accel: "tcg",
  vringSizes: [{ rx: 1024, tx: 1024 }],
  cpus: { housekeeping: [0], vswitch: [1] },
  tg: { kind: "trafgen", directions: 2, maxLoadPps: 20000 },
  vswitch: { kind: "testpmd", options: {} },
};
