/**
 * Round trip. What it means here:
 *  1. config -> lab: parseLab accepts every generated valid config;
 *  2. lab -> config -> lab: parseLab(labToConfig(lab)) deep-equals lab (labToConfig writes every
 *     default out, so nothing depends on the defaults staying the same);
 *  3. the normalized config is a fixed point: labToConfig(parseLab(labToConfig(lab))) deep-equals
 *     labToConfig(lab) (CPU lists "3-5", full PCI addresses, ...);
 *  4. the same through a stack file's YAML text, and through allConfig()'s JSON text.
 * Secrets take part: Secret compares by content and encrypted-ness under deepStrictEqual.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatCpuList } from "./cpuset";
import { formatErrors } from "./errors";
import { parseLab } from "./parse";
import { labToConfig, labToStackYaml } from "./serialize";
import { parseStackText } from "./stackfile";
import { HOST_KEY_1, HOST_KEY_2, HOST_KEY_ECDSA256, HOST_KEY_ECDSA521, HOST_KEY_RSA } from "./testutil";
import type { Lab } from "./types";

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const subset = <T>(items: T[]) => fc.subarray(items, { minLength: 1 });
const secretValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]{4,20}$/),
  fc.stringMatching(/^v1:[A-Za-z0-9+/]{8,24}$/).map((s) => ({ secure: s })),
);
/** every accepted host key form: the types, with and without a comment (normalized away) */
const hostKey = fc.constantFrom(
  HOST_KEY_1,
  `${HOST_KEY_1} root@dut1`,
  `  ${HOST_KEY_1}\n`,
  HOST_KEY_ECDSA256,
  HOST_KEY_ECDSA521,
  HOST_KEY_RSA,
);

/** CPU sets laid out one after another from `start`, each of the given size. */
function layout(start: number, sizes: number[]): number[][] {
  const out: number[][] = [];
  let next = start;
  for (const n of sizes) {
    out.push(Array.from({ length: n }, (_, i) => next + i));
    next += n;
  }
  return out;
}

const ndrpdr = fc
  .record({
    ndrLossRatio: fc.constantFrom(0, 0.001),
    extraPdr: fc.constantFrom(0, 0.004, 0.01),
    exceedRatio: fc.constantFrom(0, 0.5),
    relativeWidth: fc.constantFrom(0.005, 0.01),
    trialDurationS: fc.constantFrom(1, 2.5),
    extraSum: fc.integer({ min: 0, max: 30 }),
    extraLimit: fc.integer({ min: 0, max: 1000 }),
    minLoadPps: fc.integer({ min: 1000, max: 20000 }),
    maxLoad: fc.option(fc.integer({ min: 30000, max: 200000 }), { nil: undefined }),
  })
  .map((n) => {
    const durationSumS = n.trialDurationS + n.extraSum;
    const out: Record<string, unknown> = {
      ndrLossRatio: n.ndrLossRatio,
      pdrLossRatio: n.ndrLossRatio + n.extraPdr,
      exceedRatio: n.exceedRatio,
      relativeWidth: n.relativeWidth,
      trialDurationS: n.trialDurationS,
      durationSumS,
      timeLimitS: durationSumS + n.extraLimit,
      minLoadPps: n.minLoadPps,
    };
    if (n.maxLoad !== undefined) out.maxLoadPps = n.maxLoad;
    return out;
  });

const vswitch = fc.oneof(
  fc.record({
    kind: fc.constant("testpmd"),
    memoryMiB: fc.integer({ min: 256, max: 2048 }),
    options: fc.record({ forwardMode: fc.constantFrom("io", "mac"), burst: fc.integer({ min: 1, max: 64 }) }),
  }),
  fc.record({
    kind: fc.constant("vpp"),
    memoryMiB: fc.integer({ min: 256, max: 2048 }),
    options: fc.record({ mode: fc.constantFrom("l2xc", "l2bd"), rxQueues: fc.integer({ min: 1, max: 4 }) }),
  }),
  fc.record({ kind: fc.constant("ovs-dpdk"), memoryMiB: fc.integer({ min: 256, max: 2048 }) }),
);

/** A valid CSIT-profile config: one DUT, one TRex TG, randomized within the rules. */
const csitLab = fc
  .record({
    hk: fc.integer({ min: 1, max: 2 }),
    explicitMain: fc.boolean(),
    workers: fc.integer({ min: 1, max: 3 }),
    vmCount: fc.integer({ min: 1, max: 3 }),
    vcpus: fc.integer({ min: 2, max: 4 }),
    vmExtra: fc.integer({ min: 0, max: 1 }),
    spare: fc.integer({ min: 0, max: 8 }),
    smt: fc.constantFrom(1, 2),
    numa: fc.integer({ min: 0, max: 1 }),
    page: fc.constantFrom("2M", "1G"),
    vmGiB: fc.integer({ min: 1, max: 8 }),
    extraPages: fc.integer({ min: 0, max: 4 }),
    guestPages: fc.integer({ min: 0, max: 256 }),
    tgCpus: fc.integer({ min: 3, max: 8 }),
    key: fc.oneof(fc.constant({ file: "~/.ssh/k" }), secretValue),
    hostKey,
    password: fc.option(secretValue, { nil: undefined }),
    vswitch,
    template: fc.boolean(),
    qemuSource: fc.oneof(
      hex64.map((sha256) => ({
        kind: "tarball",
        url: "https://download.qemu.org/qemu-7.2.0.tar.xz",
        sha256,
      })),
      fc.constant({ kind: "debian", package: "qemu", suite: "bookworm", version: "1:7.2+dfsg-7+deb12u18" }),
      hex64.map((sha256) => ({ kind: "local", path: "dl/qemu-7.2.0.tar.xz", sha256 })),
    ),
    patchDir: fc.constantFrom("", "patches/qemu-7.2", undefined),
    vrings: subset([256, 512, 1024]),
    cfs: subset(["cfs", "cfsrr1"]),
    frames: subset<number | string>([64, 128, 1518, 9000, "imix"]),
    tests: subset(["mrr", "ndrpdr"]),
    trials: fc.integer({ min: 1, max: 20 }),
    ndrpdr,
    reboot: fc.boolean(),
    apply: fc.subarray([
      "isolcpus",
      "kernel-args",
      "hugepages",
      "sysctl",
      "cpu-governor",
      "irqbalance",
      "turbo-off",
    ]),
    image: fc.oneof(
      fc.constant({ kind: "build" }),
      hex64.map((sha256) => ({ kind: "url", url: "https://example.org/vm.qcow2", sha256 })),
      fc
        .option(hex64, { nil: undefined })
        .map((sha256) =>
          sha256 ? { kind: "local", path: "vm.img", sha256 } : { kind: "local", path: "vm.img" },
        ),
    ),
    workload: fc.constantFrom({ kind: "testpmd", forwardMode: "mac" }, { kind: "l3fwd" }, undefined),
  })
  .map((p) => {
    const main = p.explicitMain ? [1] : [];
    const sizes = [
      p.hk,
      main.length,
      p.workers,
      ...Array.from({ length: p.vmCount }, () => p.vcpus + p.vmExtra),
    ];
    const [hk, mainSet, workers, ...vms] = layout(0, sizes) as number[][];
    const used = sizes.reduce((a, b) => a + b, 0);
    const pageMiB = p.page === "1G" ? 1024 : 2;
    const vmMiB = p.vmGiB * 1024;
    const need = p.vmCount * (vmMiB / pageMiB) + Math.ceil(p.vswitch.memoryMiB / pageMiB);
    const tgPage = 1024;
    const count = used + p.spare + ((used + p.spare) % p.smt);
    const cpus: Record<string, unknown> = {
      count,
      threadsPerCore: p.smt,
      housekeeping: formatCpuList(hk as number[]),
      vswitch: formatCpuList(workers as number[]),
      vms: vms.map(formatCpuList),
    };
    if (p.explicitMain) cpus.vswitchMain = (mainSet as number[])[0];
    const config: Record<string, unknown> = {
      lab: { name: "prop", profile: "csit" },
      hosts: [
        {
          name: "dut1",
          roles: ["dut"],
          ssh: { host: "192.0.2.11", user: "testuser", privateKey: p.key, hostKey: p.hostKey },
          numaNode: p.numa,
          cpus,
          hugepages: { size: p.page, count: need + p.extraPages },
          nics: [
            { name: "p0", pci: "0000:18:00.0", model: "x710" },
            { name: "p1", pci: "18:00.1", model: "xxv710", mtu: 9216 },
          ],
        },
        {
          name: "tg1",
          roles: ["tg"],
          ssh: { host: "192.0.2.12", port: 2222, user: "root", privateKey: p.key, hostKey: HOST_KEY_2 },
          cpus: { count: p.tgCpus + 1, housekeeping: "0", tg: `1-${p.tgCpus}` },
          hugepages: { size: "1G", count: Math.ceil(4096 / tgPage) + p.extraPages },
          nics: [
            { name: "p0", pci: "0000:3b:00.0", model: "e810cq" },
            { name: "p1", pci: "0000:3b:00.1", model: "e810cq" },
          ],
        },
      ],
      tuning: { apply: p.apply, reboot: { allowed: p.reboot } },
      qemu: {
        version: "7.2.0",
        source: p.qemuSource,
        ...(p.patchDir !== undefined ? { patchDir: p.patchDir } : {}),
      },
      image: { source: p.image, ...(p.password !== undefined ? { user: { password: p.password } } : {}) },
      vswitch: p.vswitch,
      vms: {
        count: p.vmCount,
        vcpus: p.vcpus,
        memoryMiB: vmMiB,
        guestHugepages: { size: "2M", count: p.guestPages },
        ...(p.template
          ? { socketTemplate: "/run/vhost-perf-lab/{stack}/s-{vm}-{n}" }
          : { sockets: Array.from({ length: p.vmCount }, (_, i) => [`/run/a${i}`, `/run/b${i}`]) }),
        ...(p.workload ? { workload: p.workload } : {}),
      },
      tg: { kind: "trex" },
      matrix: {
        vringSizes: p.vrings,
        cfsPolicies: p.cfs,
        frames: p.frames,
        tests: p.tests,
        mrr: { trials: p.trials },
        ndrpdr: p.ndrpdr,
      },
    };
    return config;
  });

/** A valid local-profile config: the one-machine lab with its variations. */
const localLab = fc
  .record({
    cfsOnly: fc.boolean(),
    vmsOnBoth: fc.boolean(),
    accel: fc.constantFrom("auto", "tcg", undefined),
    msixOff: fc.boolean(),
    frames: subset<number | string>([64, 256, 1518, "imix"]),
    maxRate: fc.integer({ min: 100000, max: 400000 }),
    setMaxLoad: fc.boolean(),
    extraPages: fc.integer({ min: 0, max: 512 }),
    port: fc.integer({ min: 1024, max: 9999 }),
    password: fc.option(secretValue, { nil: undefined }),
  })
  .map((p) => {
    // without cfsrr1 the VM may time-share CPU 0 with the control path; with it, never
    const vmCpus = p.cfsOnly && p.vmsOnBoth ? "0-1" : "1";
    return {
      lab: { name: "local", profile: "local" },
      hosts: [
        {
          name: "local",
          roles: ["tg", "dut"],
          ssh: { host: "127.0.0.1", port: p.port, user: "root", managed: true },
          cpus: { count: 2, housekeeping: "0", vswitch: "1", vms: [vmCpus], tg: 0, shared: true },
          hugepages: { size: "2M", count: 1280 + p.extraPages },
          nics: [
            { name: "port0", veth: { ifname: "sw0", peer: "gen0", netns: "gen" } },
            { name: "port1", veth: { ifname: "sw1", peer: "gen1", netns: "gen" } },
          ],
        },
      ],
      qemu: {
        ...(p.accel ? { accel: p.accel } : {}),
        ...(p.msixOff ? { patchDir: "" } : {}),
      },
      ...(p.password !== undefined ? { image: { user: { password: p.password } } } : {}),
      vms: { msix: !p.msixOff },
      tg: { options: { maxRatePps: p.maxRate } },
      matrix: {
        frames: p.frames,
        ...(p.cfsOnly ? { cfsPolicies: ["cfs"] } : {}),
        ...(p.setMaxLoad ? { ndrpdr: { maxLoadPps: p.maxRate } } : {}),
      },
    } as Record<string, unknown>;
  });

function parsed(config: Record<string, unknown>, source = "prop"): Lab {
  const r = parseLab(config, source);
  if (!r.ok) assert.fail(`${formatErrors(r.errors)}\n${JSON.stringify(config)}`);
  return r.lab;
}

function roundTrips(config: Record<string, unknown>): void {
  const lab = parsed(config);
  const normalized = labToConfig(lab);
  const again = parsed(normalized);
  assert.deepStrictEqual(again, lab, "parse(serialize(lab)) differs from lab");
  assert.deepStrictEqual(labToConfig(again), normalized, "the normalized config is not a fixed point");
  // through a stack file's YAML (secrets stay {secure} or plain text)
  const stack = parseStackText(labToStackYaml(lab), "Pulumi.prop.yaml");
  assert.deepEqual(stack.errors, []);
  assert.deepStrictEqual(parsed(stack.config), lab, "YAML round trip differs");
  // through allConfig()-style JSON text values
  const asJson = Object.fromEntries(Object.entries(normalized).map(([k, v]) => [k, JSON.stringify(v)]));
  assert.deepStrictEqual(parsed(asJson), lab, "JSON round trip differs");
}

describe("round trip", () => {
  it("csit-profile labs: config -> lab -> config -> lab is stable", () => {
    fc.assert(fc.property(csitLab, roundTrips), { numRuns: 200 });
  });

  it("local-profile labs: config -> lab -> config -> lab is stable", () => {
    fc.assert(fc.property(localLab, roundTrips), { numRuns: 150 });
  });

  it("normalizes what it may (CPU lists, PCI addresses, role order) and keeps what it must", () => {
    const sample = fc.sample(csitLab, { numRuns: 1, seed: 7 })[0] as Record<string, unknown>;
    const normalized = labToConfig(parsed(sample));
    const dut = (normalized.hosts as { cpus: Record<string, unknown>; nics: Record<string, unknown>[] }[])[0];
    assert.equal(typeof dut?.cpus.housekeeping, "string");
    assert.equal(dut?.nics[1]?.pci, "0000:18:00.1");
    const loc = labToConfig(
      parsed(fc.sample(localLab, { numRuns: 1, seed: 3 })[0] as Record<string, unknown>),
    );
    assert.deepEqual((loc.hosts as Record<string, unknown>[])[0]?.roles, ["dut", "tg"]);
  });
});

describe("robustness", () => {
  const keys = ["lab", "hosts", "tuning", "qemu", "image", "vswitch", "vms", "tg", "matrix"];

  it("any value under any key gives errors or a lab, never an exception", () => {
    fc.assert(
      fc.property(localLab, fc.constantFrom(...keys), fc.anything(), (config, key, junk) => {
        const r = parseLab({ ...config, [key]: junk }, "fuzz");
        if (!r.ok) {
          for (const e of r.errors) {
            assert.ok(e.path.startsWith("vhost-perf-lab"), e.path);
            assert.ok(e.expected && e.found);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("junk deep inside a host gives errors, never an exception", () => {
    const fields = ["ssh", "cpus", "hugepages", "nics", "roles", "name", "numaNode"];
    fc.assert(
      fc.property(csitLab, fc.constantFrom(...fields), fc.anything(), (config, field, junk) => {
        const hosts = structuredClone(config.hosts) as Record<string, unknown>[];
        (hosts[0] as Record<string, unknown>)[field] = junk;
        const r = parseLab({ ...config, hosts }, "fuzz");
        assert.ok(r.ok || r.errors.length > 0);
      }),
      { numRuns: 300 },
    );
  });
});
