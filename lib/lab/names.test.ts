import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expandMatrix, l1Bps, lineRatePps, matrixBudgetS, maxLoadPps, nicTag, testName } from "./names";
import { parseLab } from "./parse";
import { csitConfig, localConfig } from "./testutil";
import type { Lab } from "./types";

function lab(config: Record<string, unknown>): Lab {
  const r = parseLab(config, "test");
  if (!r.ok) assert.fail(JSON.stringify(r.errors, null, 2));
  return r.lab;
}

describe("test names", () => {
  it("follow CSIT: frame, cores, forwarding, vhost count and vring, VMs, cfsrr1, test type", () => {
    const l = lab(csitConfig());
    const dut = l.hosts[0] as Lab["hosts"][number];
    const name = (frame: 64 | "imix", cfs: "cfs" | "cfsrr1", test: "mrr" | "ndrpdr") =>
      testName(l, dut, { frame, vringSize: 1024, cfs, test });
    assert.equal(name(64, "cfsrr1", "mrr"), "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr");
    assert.equal(name(64, "cfs", "ndrpdr"), "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-ndrpdr");
    assert.equal(name("imix", "cfs", "mrr"), "imix-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-mrr");
    assert.equal(nicTag(dut), "10ge2p1x710");
  });

  it("count physical cores, VMs and vhost ports; name a learning bridge", () => {
    const c = csitConfig();
    const hosts = c.hosts as { cpus: Record<string, unknown>; hugepages: Record<string, unknown> }[];
    const dutHost = hosts[0] as (typeof hosts)[number];
    dutHost.cpus = { count: 16, threadsPerCore: 2, housekeeping: "0", vswitch: "2-3", vms: ["4-6", "7-9"] };
    dutHost.hugepages = { size: "1G", count: 16 };
    c.vms = { count: 2 };
    c.vswitch = { kind: "vpp", options: { mode: "l2bd" } };
    c.matrix = { vringSizes: [512], cfsPolicies: ["cfs"], frames: [1518], tests: ["ndrpdr"] };
    const l = lab(c);
    assert.deepEqual(
      expandMatrix(l).map((x) => x.name),
      ["1518b-1c-eth-l2bdbasemaclrn-eth-4vhostvr512-2vm-ndrpdr"],
    );
  });

  it("expand the whole matrix per DUT in a stable order", () => {
    const l = lab(csitConfig());
    const cells = expandMatrix(l);
    assert.equal(cells.length, 4 * 1 * 2 * 2);
    assert.equal(new Set(cells.map((x) => x.name)).size, cells.length);
    assert.equal(cells[0]?.name, "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-mrr");
    assert.equal(cells.at(-1)?.name, "imix-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-ndrpdr");
    // 8 MRR cells of 10 x 1 s, 8 searches bounded by 1200 s
    assert.equal(matrixBudgetS(l), 8 * 10 + 8 * 1200);
  });
});

describe("rates", () => {
  it("line rate and L1 bps", () => {
    assert.equal(Math.round(lineRatePps(10, 64)), 14880952);
    assert.equal(Math.round(lineRatePps(10, 1518)), 812744);
    assert.equal(l1Bps(14880952.380952381, 64), 10e9);
    assert.ok(Math.abs(lineRatePps(10, "imix") - 10e9 / ((353.83 + 20) * 8)) < 1e-6);
  });

  it("max load: explicit, trafgen's ceiling, else the slowest port's line rate", () => {
    assert.equal(Math.round(maxLoadPps(lab(csitConfig()), 64)), 14880952);
    assert.equal(maxLoadPps(lab(localConfig()), 64), 300000);
    const c = localConfig();
    c.matrix = { ndrpdr: { maxLoadPps: 120000 } };
    assert.equal(maxLoadPps(lab(c), 64), 120000);
  });
});
