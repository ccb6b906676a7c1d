import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatBps,
  formatPps,
  frameLabel,
  l1BitsPerSecond,
  lineRatePps,
  meanFrameBytes,
  parseFrameSize,
  rateOf,
  relativeWidth,
} from "./units";

test("IMIX_v4_1 has a mean frame of 353.83 B", () => {
  assert.equal(meanFrameBytes("IMIX_v4_1").toFixed(2), "353.83");
});

test("L1 bps counts 20 bytes of preamble and gap per frame", () => {
  assert.equal(l1BitsPerSecond(1, 64), 672);
  assert.equal(l1BitsPerSecond(1000, 1518), 1000 * 1538 * 8);
  assert.ok(Math.abs(l1BitsPerSecond(1, "IMIX_v4_1") - 373.8333 * 8) < 1e-3);
  assert.deepEqual(rateOf(2, 64), { pps: 2, l1Bps: 1344 });
});

test("10GE line rate at 64 B is 14.88 Mpps", () => {
  assert.equal((lineRatePps(10e9, 64) / 1e6).toFixed(2), "14.88");
});

test("frame labels parse and print CSIT's way", () => {
  assert.equal(parseFrameSize("64B"), 64);
  assert.equal(parseFrameSize("9000B"), 9000);
  assert.equal(parseFrameSize("IMIX_v4_1"), "IMIX_v4_1");
  assert.equal(frameLabel(1518), "1518B");
  assert.throws(() => parseFrameSize("64"), RangeError);
  assert.throws(() => parseFrameSize("10B"), RangeError);
  assert.throws(() => meanFrameBytes(64.5), RangeError);
});

test("relative width is taken of the upper bound", () => {
  assert.equal(relativeWidth(995, 1000), 0.005);
});

test("rates format with sensible units", () => {
  assert.equal(formatPps(14_880_000), "14.880 Mpps");
  assert.equal(formatPps(450_000), "450.0 kpps");
  assert.equal(formatPps(9001), "9001 pps");
  assert.equal(formatBps(10e9), "10.000 Gbps");
});
