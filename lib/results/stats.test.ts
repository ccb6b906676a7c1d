import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { cv, relativeSpread, t975, welchDifference } from "./stats";

describe("t975", () => {
  it("matches the t table and approaches the normal quantile", () => {
    assert.equal(t975(1), 12.706);
    assert.equal(t975(4), 2.776);
    assert.equal(t975(30), 2.042);
    assert.ok(Math.abs(t975(60) - 2.0003) < 0.002, String(t975(60)));
    assert.ok(Math.abs(t975(1e6) - 1.96) < 0.001);
    assert.ok(t975(2.5) < t975(2) && t975(2.5) > t975(3), "fractional df interpolates");
  });
});

describe("welchDifference", () => {
  it("gives the textbook interval for a small example", () => {
    // a: mean 10, var 1; b: mean 13, var 4; n = 5 each: se = sqrt(0.2 + 0.8) = 1, df = 1/(0.04/4 + 0.64/4) = 5.88
    const a = [9, 9.5, 10, 10.5, 11].map((x) => 10 + (x - 10) * Math.sqrt(1 / 0.625));
    const b = [11, 12, 13, 14, 15].map((x) => 13 + (x - 13) * Math.sqrt(4 / 2.5));
    const d = welchDifference(a, b);
    assert.ok(Math.abs(d.diff - 3) < 1e-9);
    assert.ok(Math.abs((d.df ?? 0) - 5.882) < 0.01, String(d.df));
    const half = (d.high! - d.low!) / 2;
    assert.ok(Math.abs(half - t975(d.df!)) < 1e-6, `half width ${half}`);
    assert.equal(d.significant, true);
  });

  it("no interval from one value a side", () => {
    const d = welchDifference([5], [7]);
    assert.equal(d.low, null);
    assert.equal(d.significant, false);
    assert.equal(d.diff, 2);
  });

  it("property: the interval holds the difference, is symmetric and 'significant' means it excludes 0", () => {
    const sample = fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 12 });
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const d = welchDifference(a, b);
        if (d.low === null || d.high === null) return false;
        const tol = 1e-6 * Math.max(1, Math.abs(d.diff));
        return (
          d.low <= d.diff + tol &&
          d.diff <= d.high + tol &&
          Math.abs(d.diff - d.low - (d.high - d.diff)) < tol &&
          d.significant === (d.low > 0 || d.high < 0)
        );
      }),
    );
  });

  it("property: swapping the samples negates the interval", () => {
    const sample = fc.array(fc.integer({ min: 1, max: 100000 }), { minLength: 2, maxLength: 8 });
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const x = welchDifference(a, b);
        const y = welchDifference(b, a);
        return Math.abs(x.diff + y.diff) < 1e-6 && Math.abs((x.low ?? 0) + (y.high ?? 0)) < 1e-6;
      }),
    );
  });
});

describe("cv and spread", () => {
  it("are relative to the mean and undefined for one value", () => {
    assert.equal(cv([10]), null);
    assert.ok(Math.abs((cv([9, 11]) ?? 0) - Math.SQRT2 / 10) < 1e-12);
    assert.equal(relativeSpread([90, 110]), 0.2);
    assert.equal(relativeSpread([5]), null);
  });
});
