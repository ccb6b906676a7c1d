import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  cellBaseName,
  expandMatrix,
  frameTag,
  hostPaths,
  parsePlan,
  PlanError,
  PLAN_DEFAULTS,
  redactPlan,
  testName,
  type NamingSpec,
} from "./plan";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

function minimalPlan(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stack: "perf",
    hosts: { dut: { host: "10.0.0.1", user: "root", privateKey: "KEYTEXT", hostKey: KEY } },
    dut: {
      host: "dut",
      vswitch: { pidFile: "/run/vhost-perf-lab/vpl-vswitch/testpmd.pid" },
      vms: [{ pidFile: "/run/vhost-perf-lab/vm1.pid" }],
    },
    tg: { kind: "trafgen", host: "dut" },
    cells: [{ frame: 64, vringSize: 1024, policy: "cfs", tests: ["mrr"] }],
    mrr: { maxLoadPps: 300000 },
    ...over,
  };
}

const NAMING: NamingSpec = { cores: 1, nic: "eth", forwarding: "l2xcbase", vms: 1, vhostPerVm: 2 };

describe("test names", () => {
  it("follows CSIT for cfs and cfsrr1", () => {
    const cell = { frame: 64, vringSize: 1024, policy: "cfs" as const };
    assert.equal(testName(cell, "mrr", NAMING), "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-mrr");
    assert.equal(
      testName({ ...cell, policy: "cfsrr1" }, "ndrpdr", NAMING),
      "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-ndrpdr",
    );
  });

  it("names IMIX, jumbo frames, vring 256, more cores and VMs", () => {
    assert.equal(frameTag("IMIX_v4_1"), "imix");
    assert.equal(
      testName({ frame: 9000, vringSize: 256, policy: "cfs" }, "mrr", { ...NAMING, cores: 2, vms: 2 }),
      "9000b-2c-eth-l2xcbase-eth-4vhostvr256-2vm-mrr",
    );
    assert.equal(
      cellBaseName({ frame: "IMIX_v4_1", vringSize: 1024, policy: "cfsrr1" }, NAMING),
      "imix-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1",
    );
  });

  it("names VM chains as CSIT does (2vhost-1vm, 4vhost-2vm, 8vhost-4vm): one thread selector per VM", () => {
    // CSIT: tests/vpp/perf/vm_vhost/*-eth-l2xcbase-eth-4vhostvr1024-2vm-{mrr,ndrpdr}.robot
    const want = { 1: "2vhostvr1024-1vm", 2: "4vhostvr1024-2vm", 4: "8vhostvr1024-4vm" };
    for (const [n, tag] of Object.entries(want)) {
      const vms = Array.from({ length: Number(n) }, (_, i) => ({
        pidFile: `/run/vhost-perf-lab/vm${i + 1}.pid`,
      }));
      const base = minimalPlan();
      const plan = parsePlan({ ...base, dut: { ...(base["dut"] as object), vms } });
      assert.deepEqual(
        plan.dut.vms.map((v) => v.label),
        vms.map((_, i) => `vm${i + 1}`),
      );
      assert.equal(
        testName({ frame: 64, vringSize: 1024, policy: "cfsrr1" }, "ndrpdr", plan.naming),
        `64b-1c-eth-l2xcbase-eth-${tag}-cfsrr1-ndrpdr`,
      );
    }
  });

  it("expands a matrix in frame, vring, policy order", () => {
    const cells = expandMatrix({
      frames: [64, 1518],
      vringSizes: [256, 1024],
      policies: ["cfs", "cfsrr1"],
      tests: ["mrr", "ndrpdr"],
    });
    assert.equal(cells.length, 8);
    assert.deepEqual(cells[0], { frame: 64, vringSize: 256, policy: "cfs", tests: ["mrr", "ndrpdr"] });
    assert.deepEqual(cells[1]?.policy, "cfsrr1");
    assert.deepEqual(cells[2]?.vringSize, 1024);
    assert.deepEqual(cells[4]?.frame, 1518);
  });

  it("gives every cell of any matrix a distinct name", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom<number | "IMIX_v4_1">(64, 78, 1518, 9000, "IMIX_v4_1"), {
          minLength: 1,
        }),
        fc.uniqueArray(fc.constantFrom(256, 512, 1024), { minLength: 1 }),
        fc.uniqueArray(fc.constantFrom("cfs" as const, "cfsrr1" as const), { minLength: 1 }),
        (frames, vringSizes, policies) => {
          const names = expandMatrix({ frames, vringSizes, policies, tests: ["mrr"] }).map((c) =>
            cellBaseName(c, NAMING),
          );
          assert.equal(new Set(names).size, names.length);
        },
      ),
    );
  });
});

describe("parsePlan", () => {
  it("fills the defaults", () => {
    const plan = parsePlan(minimalPlan());
    assert.equal(plan.mrr.trials, 10);
    assert.equal(plan.mrr.trialDurationS, 1);
    assert.equal(plan.ndrpdr.minLoadPps, 9001);
    assert.equal(plan.ndrpdr.maxLoadPps, 300000, "NDR/PDR max load defaults to the MRR load");
    assert.equal(plan.ndrpdr.durationSumS, 21);
    assert.equal(plan.ndrpdr.pdrLossRatio, 0.005);
    assert.equal(plan.dut.vswitch.namePattern, PLAN_DEFAULTS.vswitchPattern);
    assert.equal(plan.dut.vms[0]?.namePattern, PLAN_DEFAULTS.vcpuPattern);
    assert.equal(plan.dut.vms[0]?.label, "vm1");
    assert.equal(plan.naming.vms, 1);
    const tg = plan.tg;
    assert.equal(tg.kind, "trafgen");
    if (tg.kind === "trafgen") {
      assert.equal(tg.netns, "vpl-tg");
      assert.equal(tg.sources, 254);
    }
    const host = plan.hosts.dut;
    assert.ok(host && host.transport === "ssh" && host.port === 22);
  });

  it("the vCPU pattern matches QEMU's thread names, the vswitch one testpmd's workers", () => {
    const vcpu = new RegExp(PLAN_DEFAULTS.vcpuPattern);
    assert.ok(vcpu.test("CPU 0/TCG") && vcpu.test("CPU 12/KVM"));
    assert.ok(!vcpu.test("IO mon_iothread") && !vcpu.test("qemu-system-x86"));
    const worker = new RegExp(PLAN_DEFAULTS.vswitchPattern);
    assert.ok(
      worker.test("rte-worker-1") && !worker.test("rte_mp_handle") && !worker.test("eal-intr-thread"),
    );
  });

  it("accepts a matrix instead of cells, and frame labels", () => {
    const plan = parsePlan(
      minimalPlan({
        cells: undefined,
        matrix: {
          frames: ["64B", "IMIX_v4_1"],
          vringSizes: [1024],
          policies: ["cfs", "cfsrr1"],
          tests: ["mrr"],
        },
      }),
    );
    assert.equal(plan.cells.length, 4);
    assert.equal(plan.cells[2]?.frame, "IMIX_v4_1");
  });

  it("reports every problem at once, with paths", () => {
    let error: unknown;
    try {
      parsePlan({
        hosts: { a: { host: "h", hostKey: "nonsense" } },
        dut: { host: "b", vswitch: { namePattern: "(" } },
        tg: { kind: "ixia", host: "a" },
        cells: [{ frame: 63, vringSize: 1000, policy: "rr", tests: ["mrr", "mrr"] }],
        mrr: { trials: 0 },
      });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof PlanError);
    const text = error.problems.join("\n");
    for (const expected of [
      "hosts.a: needs exactly one of privateKey and privateKeyPath",
      "hosts.a.hostKey",
      'dut.host: unknown host "b"',
      "dut.vswitch.namePattern: not a valid regular expression",
      "dut.vswitch: needs exactly one of pid and pidFile",
      "tg.kind",
      "cells[0].frame",
      "cells[0].vringSize",
      "cells[0].policy",
      "cells[0].tests: lists a test type twice",
      "mrr.trials: must be >= 1",
      "mrr.maxLoadPps: is required",
    ]) {
      assert.ok(text.includes(expected), `missing "${expected}" in:\n${text}`);
    }
  });

  it("rejects both cells and matrix, and NDR/PDR bounds in the wrong order", () => {
    assert.throws(
      () =>
        parsePlan(
          minimalPlan({ matrix: { frames: [64], vringSizes: [1024], policies: ["cfs"], tests: ["mrr"] } }),
        ),
      /needs exactly one of cells and matrix/,
    );
    assert.throws(
      () =>
        parsePlan(
          minimalPlan({
            cells: [{ frame: 64, policy: "cfs", tests: ["ndrpdr"] }],
            ndrpdr: { minLoadPps: 50000, maxLoadPps: 10000 },
          }),
        ),
      /ndrpdr.maxLoadPps: must be >= ndrpdr.minLoadPps/,
    );
  });

  it("wants whole-second trials with trafgen", () => {
    assert.throws(
      () => parsePlan(minimalPlan({ mrr: { maxLoadPps: 1000, trialDurationS: 0.5 } })),
      /mrr.trialDurationS: must be whole seconds with trafgen/,
    );
  });

  it("takes a TRex TG with CSIT's defaults (RPC 4501, ports 0/1, latency at 10/50/90 % of PDR)", () => {
    const plan = parsePlan(minimalPlan({ tg: { kind: "trex", host: "dut", rpcHost: "192.0.2.10" } }));
    assert.deepEqual(plan.tg, {
      kind: "trex",
      host: "dut",
      rpcHost: "192.0.2.10",
      rpcPort: 4501,
      ports: [0, 1],
      timeoutMs: 5000,
      forceAcquire: false,
      latency: { fractions: [0.1, 0.5, 0.9], durationS: 5, streamPps: 10000 },
    });
    const off = parsePlan(
      minimalPlan({ tg: { kind: "trex", host: "dut", rpcHost: "tg1.lab", latency: null } }),
    );
    assert.equal(off.tg.kind === "trex" && off.tg.latency, null);
    assert.throws(
      () =>
        parsePlan(
          minimalPlan({ tg: { kind: "trex", host: "dut", rpcHost: "a b", latency: { fractions: [] } } }),
        ),
      /tg\.rpcHost: not a host name[\s\S]*tg\.latency\.fractions: needs at least one level/,
    );
  });

  it("accepts a local transport; pins only the public key line (no fingerprint, no known_hosts line, never empty)", () => {
    const plan = parsePlan(
      minimalPlan({
        hosts: {
          dut: { transport: "local" },
          tg: { host: "127.0.0.1", port: 2022, privateKeyPath: "/k", hostKey: `${KEY} root@tg` },
        },
      }),
    );
    assert.equal(plan.hosts.dut?.transport, "local");
    const tg = plan.hosts.tg;
    assert.equal(tg?.transport === "ssh" && tg.hostKey, KEY, "normalized: the comment is dropped");
    const refused = (hostKey: unknown): string => {
      try {
        const host = {
          host: "127.0.0.1",
          port: 2022,
          privateKeyPath: "/k",
          ...(hostKey === undefined ? {} : { hostKey }),
        };
        parsePlan(minimalPlan({ hosts: { dut: host } }));
      } catch (e) {
        assert.ok(e instanceof PlanError);
        return e.problems.join("\n");
      }
      return assert.fail(`accepted ${String(hostKey)}`);
    };
    assert.match(
      refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
      /hosts\.dut\.hostKey: a key fingerprint/,
    );
    assert.match(refused(`[127.0.0.1]:2022 ${KEY}`), /hosts\.dut\.hostKey: a known_hosts line/);
    assert.match(refused(""), /hosts\.dut\.hostKey: no host key/);
    assert.match(refused(undefined), /hosts\.dut\.hostKey: no host key/);
    assert.match(
      refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"),
      /hosts\.dut\.hostKey: the key data is damaged/,
    );
    assert.match(refused(undefined), /fix: .*ssh-keyscan -t ed25519 -p 2022 127\.0\.0\.1/);
  });

  it("wants the stack name; the runner's files live under /run/vhost-perf-lab/<stack>/", () => {
    assert.equal(parsePlan(minimalPlan()).stack, "perf");
    assert.throws(() => parsePlan(minimalPlan({ stack: undefined })), /plan\.stack: is required/);
    assert.throws(() => parsePlan(minimalPlan({ stack: "Perf/../x" })), /plan\.stack: must be a stack name/);
    assert.deepEqual(hostPaths("perf"), {
      runDir: "/run/vhost-perf-lab/perf",
      schedRecord: "/run/vhost-perf-lab/perf/sched.record",
      trafgenDir: "/run/vhost-perf-lab/perf/trafgen",
    });
    assert.throws(() => hostPaths("../x"));
    // the old global paths are refused, not silently used
    assert.throws(
      () =>
        parsePlan(
          minimalPlan({ tg: { kind: "trafgen", host: "dut", configDir: "/run/vhost-perf-lab/trafgen" } }),
        ),
      /tg\.configDir: is no longer set by the plan/,
    );
    assert.throws(
      () => parsePlan(minimalPlan({ sched: { stateFile: "/run/vhost-perf-lab/bench-rt-runtime.orig" } })),
      /sched\.stateFile: is no longer set by the plan/,
    );
  });

  it("never prints the private key", () => {
    const plan = parsePlan(minimalPlan());
    const text = JSON.stringify(redactPlan(plan));
    assert.ok(!text.includes("KEYTEXT"));
    assert.ok(text.includes(KEY));
  });
});

describe("vswitch counters and threads (the vswitch kind's bench hooks)", () => {
  const dut = ({ vswitch, ...extra }: Record<string, unknown>): Record<string, unknown> => ({
    dut: {
      host: "dut",
      vswitch: { pid: 10, ...((vswitch as object | undefined) ?? {}) },
      vms: [{ pid: 20 }],
      ...extra,
    },
  });

  it("a plan without the new fields parses as testpmd: rte-worker threads, telemetry from the prefix", () => {
    const plan = parsePlan(minimalPlan(dut({ vswitchTelemetryPrefix: "vpl-local-local-vswitch" })));
    assert.equal(plan.dut.vswitch.namePattern, "^rte-worker-");
    assert.deepEqual(plan.dut.vswitchCounters, { kind: "dpdk-telemetry", prefix: "vpl-local-local-vswitch" });
    assert.equal(parsePlan(minimalPlan()).dut.vswitchCounters, undefined);
  });

  it("takes an OVS plan: PMD thread pattern and the Interface table of its run dir", () => {
    const counters = { kind: "ovs", runDir: "/run/vhost-perf-lab/x/vpl-x-ovs", bridge: "vplbr12345678" };
    const plan = parsePlan(
      minimalPlan(dut({ vswitch: { namePattern: "^pmd-c\\d+/id:\\d+$" }, vswitchCounters: counters })),
    );
    assert.equal(plan.dut.vswitch.namePattern, "^pmd-c\\d+/id:\\d+$");
    assert.deepEqual(plan.dut.vswitchCounters, counters);
  });

  it("refuses bad counter sources, naming the path", () => {
    const problems = (counters: unknown): string => {
      try {
        parsePlan(minimalPlan(dut({ vswitchCounters: counters })));
        return "";
      } catch (e) {
        assert.ok(e instanceof PlanError);
        return e.problems.join("\n");
      }
    };
    assert.match(
      problems({ kind: "ovs", runDir: "../x", bridge: "br0" }),
      /dut\.vswitchCounters\.runDir: must be an absolute path/,
    );
    assert.match(
      problems({ kind: "ovs", runDir: "/run/a/../b", bridge: "br0" }),
      /runDir: must be an absolute path/,
    );
    assert.match(
      problems({ kind: "ovs", runDir: "/run/x", bridge: "a;rm" }),
      /dut\.vswitchCounters\.bridge: not a bridge name/,
    );
    assert.match(problems({ kind: "snmp" }), /dut\.vswitchCounters\.kind: must be one of/);
    assert.match(problems({ kind: "dpdk-telemetry", prefix: "a b" }), /prefix: not a valid DPDK file-prefix/);
  });
});
