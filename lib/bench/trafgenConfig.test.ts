import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { meanFrameBytes } from "../measure/units";
import { imixSequence, ipv4Checksum, packetHeaders, trafgenConfig } from "./trafgenConfig";

const OPTS = { srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", sources: 254 };

/** Bytes of one `{ ... }` packet line as trafgen would build it (hex bytes + fill(0x00, n)). */
function packetLength(line: string): number {
  const body = /\{(.*)\}/.exec(line)?.[1] ?? "";
  let n = 0;
  for (const item of body.split(",").map((s) => s.trim())) {
    if (/^0x[0-9a-f]{2}$/.test(item)) n += 1;
  }
  const fill = /fill\(0x00, (\d+)\)/.exec(body);
  return n + (fill ? Number(fill[1]) : 0);
}

function packetLines(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("{"));
}

describe("trafgen configs", () => {
  it("64B: 254 packets of 60 bytes (FCS excluded), sources 10.10.10.1..254", () => {
    const cfg = trafgenConfig(64, OPTS);
    const lines = packetLines(cfg.text);
    assert.equal(cfg.packets, 254);
    assert.equal(lines.length, 254);
    for (const line of lines) assert.equal(packetLength(line), 60);
    assert.equal(cfg.maxPacketBytes, 60);
    assert.equal(cfg.meanPacketBytes, 60);
    assert.equal(cfg.requiredMtu, 46);
    assert.equal(cfg.jumbo, false);
    assert.ok(lines[0]?.includes("0x0a,0x0a,0x0a,0x01,0x14,0x14,0x14,0x01"));
    assert.ok(lines[253]?.includes("0x0a,0x0a,0x0a,0xfe,0x14,0x14,0x14,0x01"));
    assert.ok(cfg.text.startsWith("# "), "header is a trafgen comment");
  });

  it("puts the MACs, IPv4 and UDP headers where they belong", () => {
    const h = packetHeaders(64, 1, OPTS);
    assert.deepEqual(h.slice(0, 6), [2, 0, 0, 0, 0, 2], "destination MAC first");
    assert.deepEqual(h.slice(6, 12), [2, 0, 0, 0, 0, 1]);
    assert.deepEqual(h.slice(12, 14), [0x08, 0x00]);
    assert.equal((h[16]! << 8) + h[17]!, 46, "IPv4 total length");
    assert.equal(h[23], 17, "UDP");
    assert.equal((h[38]! << 8) + h[39]!, 26, "UDP length");
  });

  it("computes valid IPv4 header checksums (the sum over a correct header is 0)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 9000 }), fc.integer({ min: 1, max: 254 }), (frame, src) => {
        const ip = packetHeaders(frame, src, OPTS).slice(14, 34);
        assert.equal(ipv4Checksum(ip), 0);
      }),
    );
    // RFC 1071 example header.
    const header = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7];
    assert.equal(ipv4Checksum(header), 0xb861);
  });

  it("1518B and 9000B: sizes, MTU and trafgen's jumbo switch", () => {
    const c1518 = trafgenConfig(1518, { ...OPTS, sources: 1 });
    assert.equal(packetLength(packetLines(c1518.text)[0]!), 1514);
    assert.equal(c1518.requiredMtu, 1500);
    assert.equal(c1518.jumbo, false);
    const c9000 = trafgenConfig(9000, { ...OPTS, sources: 2 });
    assert.equal(packetLength(packetLines(c9000.text)[0]!), 8996);
    assert.equal(c9000.requiredMtu, 8982);
    assert.equal(c9000.jumbo, true);
  });

  it("IMIX_v4_1: 28 x 64 + 16 x 570 + 4 x 1518, interleaved, mean 353.83 B", () => {
    const seq = imixSequence();
    assert.equal(seq.length, 48);
    assert.equal(seq.filter((b) => b === 64).length, 28);
    assert.equal(seq.filter((b) => b === 570).length, 16);
    assert.equal(seq.filter((b) => b === 1518).length, 4);
    assert.ok(Math.abs(seq.reduce((a, b) => a + b, 0) / 48 - meanFrameBytes("IMIX_v4_1")) < 1e-9);
    assert.notDeepEqual(seq.slice(0, 4), [1518, 1518, 1518, 1518]);
    // no two 1518 B frames back to back
    assert.ok(!seq.some((b, i) => b === 1518 && seq[i + 1] === 1518));
    const cfg = trafgenConfig("IMIX_v4_1", OPTS);
    assert.equal(cfg.packets, 48);
    assert.equal(cfg.requiredMtu, 1500);
    const lengths = packetLines(cfg.text).map(packetLength);
    assert.deepEqual(
      lengths,
      seq.map((b) => b - 4),
    );
    assert.ok(Math.abs(cfg.meanPacketBytes - (meanFrameBytes("IMIX_v4_1") - 4)) < 1e-9);
  });

  it("refuses bad inputs", () => {
    assert.throws(() => trafgenConfig(64, { ...OPTS, sources: 0 }), RangeError);
    assert.throws(() => trafgenConfig(64, { ...OPTS, sources: 255 }), RangeError);
    assert.throws(() => trafgenConfig(64, { ...OPTS, srcMac: "zz" }), /bad MAC/);
  });
});
