import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../../components/shared/scripts";
import { csitRecords } from "./csit";
import type { StoredRunDoc } from "./types";

const doc = JSON.parse(
  readFileSync(join(repoRoot(), "tests", "fixtures", "results", "fake-lab", "run1.json"), "utf8"),
) as StoredRunDoc;

describe("CSIT-shaped records", () => {
  const records = csitRecords(doc);

  it("one per test, with CSIT's test ids and tags", () => {
    assert.equal(records.length, 4);
    const mrr = records.find((r) => r.test_id === "64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr");
    assert.ok(mrr);
    for (const tag of ["MRR", "64B", "1C", "ETH", "L2XCBASE", "VHOST", "VHOST_1024", "1VM", "CFSRR1"])
      assert.ok(mrr.tags.includes(tag), `${tag} in ${mrr.tags.join(" ")}`);
    assert.ok(records.filter((r) => r.test_type === "ndrpdr").every((r) => r.tags.includes("NDRPDR")));
  });

  it("MRR receive rates are the trials; NDR/PDR bounds in pps and L1 bps", () => {
    const cell = doc.cells[0]!;
    const mrr = records.find((r) => r.test_type === "mrr" && r.vpl.cell === cell.name)!;
    assert.equal(mrr.result.type, "mrr");
    if (mrr.result.type === "mrr") {
      assert.deepEqual(
        mrr.result.receive_rate.rate.values,
        cell.mrr!.trials.map((t) => t.pps),
      );
      assert.equal(mrr.result.receive_rate.rate.avg, cell.mrr!.avgPps);
    }
    const nd = records.find((r) => r.test_type === "ndrpdr" && r.vpl.cell === cell.name)!;
    assert.equal(nd.result.type, "ndrpdr");
    if (nd.result.type === "ndrpdr") {
      const lower = nd.result.ndr.lower.rate.value!;
      assert.equal(lower, cell.ndrpdr!.ndr!.lowerBoundPps);
      // 64B: L1 = pps x (64 + 20) x 8
      assert.equal(nd.result.ndr.lower.bandwidth.value, Math.round(lower * 84 * 8));
      const upper = nd.result.pdr.upper.rate.value!;
      assert.equal(upper, cell.ndrpdr!.pdr!.upperBoundPps! * cell.directions, "aggregate like CSIT");
      assert.equal(nd.result.pdr.upper.bandwidth.value, Math.round(upper * 84 * 8));
      assert.ok(lower <= upper);
    }
    assert.equal(mrr.vpl.key, doc.results!.origins[cell.name]!.key);
  });
});
