import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { intToIpv4 } from "./packets";
import { imixRateSplit, l2xcLatencyStream, l2xcStreams, LATENCY_PROFILE, TRAFFIC_PROFILE } from "./streams";

test("the IMIX_v4_1 split keeps the total and CSIT's 28:16:4 ratio", () => {
  fc.assert(
    fc.property(fc.double({ min: 1, max: 1e9, noNaN: true }), (total) => {
      const split = imixRateSplit(total);
      assert.deepEqual(
        split.map((s) => s.frameBytes),
        [64, 570, 1518],
      );
      const sum = split.reduce((a, s) => a + s.pps, 0);
      assert.ok(Math.abs(sum - total) <= total * 1e-12);
      assert.ok(Math.abs(split[0]!.pps / split[2]!.pps - 7) < 1e-9);
      assert.ok(Math.abs(split[1]!.pps / split[2]!.pps - 4) < 1e-9);
    }),
  );
});

test("l2xc streams: 254 sources per direction written into IPv4.src, packets of frame - 4 bytes", () => {
  for (const [direction, first, dst] of [
    [0, "10.10.10.1", "20.20.20.1"],
    [1, "20.20.20.1", "10.10.10.1"],
  ] as const) {
    for (const frame of [64, 1518, 9000] as const) {
      const [spec, ...rest] = l2xcStreams(frame, direction);
      assert.equal(rest.length, 0);
      assert.equal(spec?.profileId, TRAFFIC_PROFILE);
      const packet = Buffer.from(spec!.stream.packet.binary, "base64");
      assert.equal(packet.length, frame - 4);
      assert.equal(intToIpv4(packet.readUInt32BE(26)), first);
      assert.equal(intToIpv4(packet.readUInt32BE(30)), dst);
      const [flowVar, write, fix] = spec!.stream.vm.instructions;
      assert.ok(
        flowVar?.type === "flow_var" && write?.type === "write_flow_var" && fix?.type === "fix_checksum_ipv4",
      );
      assert.equal(flowVar.max_value - flowVar.min_value + 1, 254);
      assert.equal(intToIpv4(flowVar.min_value), first);
      assert.equal(write.pkt_offset, 26);
      assert.equal(fix.pkt_offset, 14);
    }
  }
  assert.deepEqual(
    l2xcStreams("IMIX_v4_1", 1).map((s) => [
      s.streamId,
      s.stream.mode.rate.value,
      Buffer.from(s.stream.packet.binary, "base64").length,
    ]),
    [
      [1, 28, 60],
      [2, 16, 566],
      [3, 4, 1514],
    ],
  );
});

test("latency streams: own profile, pg_id = direction, rule_type latency; 64 B for IMIX", () => {
  const lat = l2xcLatencyStream(1518, 1);
  assert.equal(lat.profileId, LATENCY_PROFILE);
  assert.deepEqual(lat.stream.flow_stats, { enabled: true, stream_id: 1, rule_type: "latency" });
  assert.equal(Buffer.from(l2xcLatencyStream("IMIX_v4_1", 0).stream.packet.binary, "base64").length, 60);
});
