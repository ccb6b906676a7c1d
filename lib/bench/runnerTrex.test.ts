// The runner with a TRex TG: the real client over ZeroMQ against the stand-in RPC server
// (tests/support/trexStandIn.ts, a simulated device per direction), the DUT's scheduler faked.
// Covers what the runner adds around the client: the TG seam, both directions in the report,
// CSIT's latency after NDR/PDR at 10/50/90 % of the PDR, and the ports given back at the end.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTrexStandIn, type TrexStandIn } from "../../tests/support/trexStandIn";
import { parsePlan, type BenchPlan } from "./plan";
import type { RemoteExec } from "./remote";
import { runBench } from "./runner";
import { FakeLab } from "./testSupport";

function makePlan(standIn: TrexStandIn, over: Record<string, unknown> = {}): BenchPlan {
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
    tg: {
      kind: "trex",
      host: "lab",
      rpcHost: "127.0.0.1",
      rpcPort: standIn.port,
      timeoutMs: 3000,
      latency: { fractions: [0.1, 0.5, 0.9], durationS: 0.2, streamPps: 1000 },
    },
    cells: [
      { frame: 64, vringSize: 1024, policy: "cfs", tests: ["mrr", "ndrpdr"] },
      { frame: 64, vringSize: 1024, policy: "cfsrr1", tests: ["mrr"] },
    ],
    mrr: { trials: 2, trialDurationS: 0.2, maxLoadPps: 100000 },
    ndrpdr: {
      minLoadPps: 10000,
      maxLoadPps: 100000,
      trialDurationS: 0.2,
      durationSumS: 0.4,
      timeLimitS: 30,
      relativeWidth: 0.05,
      intermediatePhases: 0,
    },
    ...over,
  });
}

function makeLab(): FakeLab {
  const l = new FakeLab();
  l.pidFiles.set("/run/vs.pid", 100);
  l.pidFiles.set("/run/vm1.pid", 200);
  l.threads = [
    { pid: 100, tid: 105, comm: "rte-worker-1", cpus: "1", policy: "SCHED_OTHER", priority: 0 },
    { pid: 200, tid: 203, comm: "CPU 0/TCG", cpus: "1", policy: "SCHED_OTHER", priority: 0 },
  ];
  return l;
}

const hosts = (lab: FakeLab): { get: (n: string) => Promise<RemoteExec>; closeAll: () => Promise<void> } => ({
  get: async () => lab.exec,
  closeAll: async () => undefined,
});

describe("runBench with TRex (stand-in server)", () => {
  let standIn: TrexStandIn;
  before(async () => {
    // direction 0 carries 60 kpps, direction 1 only 40 kpps
    standIn = await startTrexStandIn({ capacityPps: [60000, 40000] });
  });
  after(async () => standIn.close());

  it("measures both directions, latency after NDR/PDR, and gives the ports back", async () => {
    const lab = makeLab();
    const lines: string[] = [];
    const report = await runBench(makePlan(standIn), {
      hosts: hosts(lab),
      log: (l) => lines.push(l),
      probe: { loadPps: 1000, durationS: 0.2 },
    });
    assert.equal(
      report.ok,
      true,
      `${report.fatal ?? ""} ${JSON.stringify(report.cells.map((c) => c.error))}`,
    );
    assert.equal(report.tg.kind, "trex");
    assert.equal(report.tg.directions, 2);
    assert.match(report.tg.note, /TRex v3\.08 on lab \(RPC 127\.0\.0\.1:\d+\): ports 0 -> DUT -> 1 and back/);
    const [cfs, rr] = report.cells;
    assert.ok(cfs?.mrr && rr?.mrr);
    // MRR at 100 kpps per direction: each direction delivers its own capacity
    const [d0, d1] = cfs.mrr.avgPpsPerDirection ?? [];
    assert.ok(d0 !== undefined && Math.abs(d0 - 60000) / 60000 < 0.05, `direction 0 ${d0}`);
    assert.ok(d1 !== undefined && Math.abs(d1 - 40000) / 40000 < 0.05, `direction 1 ${d1}`);
    assert.ok(Math.abs(cfs.mrr.avgPps - 100000) / 100000 < 0.05, `aggregate ${cfs.mrr.avgPps}`);
    // NDR: the same load in both directions; the slower one (40 kpps) bounds it: ~80 kpps aggregate
    const ndr = cfs.ndrpdr?.ndr?.lowerBoundPps ?? 0;
    assert.ok(ndr > 70000 && ndr <= 80000, `NDR ${ndr}`);
    const pdr = cfs.ndrpdr?.pdr?.lowerBoundPps ?? 0;
    // latency: three levels at fractions of the PDR per direction, both directions each
    assert.deepEqual(
      cfs.latency?.map((l) => l.label),
      ["PDR10", "PDR50", "PDR90"],
    );
    for (const level of cfs.latency ?? []) {
      assert.ok(Math.abs(level.loadPps - (level.fraction * pdr) / 2) < 1, `level load ${level.loadPps}`);
      assert.deepEqual(
        level.directions.map((d) => [d.txPort, d.rxPort]),
        [
          [0, 1],
          [1, 0],
        ],
      );
      for (const d of level.directions)
        assert.ok(d.minUs <= d.avgUs && d.avgUs <= d.maxUs, JSON.stringify(d));
    }
    assert.equal(rr.latency, undefined, "latency only after an NDR/PDR search");
    assert.ok(
      lines.some((l) => /ndrpdr latency PDR50 .* dir0 /.test(l)),
      lines.join("\n"),
    );
    // the scheduler is back, and the TRex ports are reset (released) at the end
    assert.deepEqual(lab.rtThreads(), []);
    const methods = standIn.requests.map((r) => r.method);
    assert.equal(methods.at(-1), "release");
    assert.ok(methods.includes("get_pgid_stats"));
    assert.deepEqual(
      standIn.requests.filter((r) => r.method === "acquire").map((r) => r.params.port_id),
      [0, 1],
      "each port acquired once for the whole run",
    );
  });

  it("fails the run with the RPC endpoint and the fix when TRex does not answer", async () => {
    const lab = makeLab();
    const plan = makePlan(standIn);
    const report = await runBench(
      { ...plan, tg: { ...plan.tg, rpcPort: 1, timeoutMs: 300 } as BenchPlan["tg"] },
      { hosts: hosts(lab), log: () => undefined },
    );
    assert.match(
      report.fatal ?? "",
      /TRex at 127\.0\.0\.1:1 \(tg\.rpcHost\/rpcPort\): .*reachable from here/,
    );
    assert.equal(report.cells.length, 0);
  });

  it("rejects a TRex plan without an RPC host, naming the key", () => {
    assert.throws(
      () =>
        parsePlan({
          ...JSON.parse(JSON.stringify(makePlan(standIn))),
          tg: { kind: "trex", host: "lab", ports: [1, 1] },
        }),
      /tg\.rpcHost: is required[\s\S]*tg\.ports: must be two different TRex port ids/,
    );
  });
});
