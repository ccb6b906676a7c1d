import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { difference, formatCpuList, intersect, parseCpuList, union } from "./cpuset";

describe("parseCpuList", () => {
  it("reads single CPUs, ranges and mixes, sorted", () => {
    assert.deepEqual(parseCpuList("2-3,6"), { ok: true, cpus: [2, 3, 6] });
    assert.deepEqual(parseCpuList("6, 0-1"), { ok: true, cpus: [0, 1, 6] });
    assert.deepEqual(parseCpuList("5"), { ok: true, cpus: [5] });
    assert.deepEqual(parseCpuList(""), { ok: true, cpus: [] });
  });

  it("refuses malformed lists with a reason", () => {
    const reason = (s: string) => {
      const r = parseCpuList(s);
      assert.equal(r.ok, false, s);
      return r.ok ? "" : r.reason;
    };
    assert.match(reason("1-x"), /not a CPU or a range/);
    assert.match(reason("1,,2"), /empty item/);
    assert.match(reason("5-3"), /backwards/);
    assert.match(reason("1-3,2"), /CPU 2 is listed twice/);
    assert.match(reason("-1"), /not a CPU/);
    assert.match(reason("99999"), /stop at/);
  });
});

describe("formatCpuList", () => {
  it("folds runs", () => {
    assert.equal(formatCpuList([6, 2, 3]), "2-3,6");
    assert.equal(formatCpuList([0]), "0");
    assert.equal(formatCpuList([]), "");
    assert.equal(formatCpuList([1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
  });

  it("parse(format(s)) gives the sorted set back, and format is canonical", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 40 }), (cpus) => {
        const text = formatCpuList(cpus);
        const r = parseCpuList(text);
        assert.ok(r.ok);
        assert.deepEqual(
          r.cpus,
          [...cpus].sort((a, b) => a - b),
        );
        assert.equal(formatCpuList(r.cpus), text);
      }),
    );
  });
});

describe("set helpers", () => {
  it("intersect, union, difference", () => {
    assert.deepEqual(intersect([1, 2, 3], [2, 3, 4]), [2, 3]);
    assert.deepEqual(union([3, 1], [2, 1]), [1, 2, 3]);
    assert.deepEqual(difference([0, 1, 2, 3], [1, 3]), [0, 2]);
  });
});
