import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildIpv4Packet,
  internetChecksum,
  intToIpv4,
  ipv4HeaderChecksum,
  ipv4ToInt,
  IPV4_OFFSET,
  IPV4_SRC_OFFSET,
} from "./packets";

const address = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));

test("IPv4 addresses convert both ways", () => {
  fc.assert(fc.property(address, (a) => assert.equal(intToIpv4(ipv4ToInt(a)), a)));
  assert.equal(ipv4ToInt("10.10.10.1"), 0x0a0a0a01);
  assert.throws(() => ipv4ToInt("10.10.10.256"), /not an IPv4 address/);
});

test("a built packet is frame - 4 bytes long with a header that checks out", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 64, max: 9216 }),
      address,
      address,
      fc.nat(255),
      (frame, src, dst, proto) => {
        const packet = buildIpv4Packet({ frameBytes: frame, srcIp: src, dstIp: dst, protocol: proto });
        assert.equal(packet.length, frame - 4);
        assert.equal(packet.readUInt16BE(12), 0x0800);
        assert.equal(packet.readUInt16BE(IPV4_OFFSET + 2), frame - 4 - 14);
        assert.equal(packet[IPV4_OFFSET + 9], proto);
        // Summing a header that carries its checksum gives 0 (RFC 1071).
        assert.equal(internetChecksum(packet.subarray(IPV4_OFFSET, IPV4_OFFSET + 20)), 0);
      },
    ),
  );
});

test("what the field engine does (new source, fixed checksum) keeps the header valid", () => {
  const packet = buildIpv4Packet({ frameBytes: 64, srcIp: "10.10.10.1", dstIp: "20.20.20.1", protocol: 61 });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253 }), (step) => {
      const copy = Buffer.from(packet);
      copy.writeUInt32BE(ipv4ToInt("10.10.10.1") + step, IPV4_SRC_OFFSET);
      copy.writeUInt16BE(ipv4HeaderChecksum(copy), IPV4_OFFSET + 10);
      assert.equal(internetChecksum(copy.subarray(IPV4_OFFSET, IPV4_OFFSET + 20)), 0);
      assert.equal(intToIpv4(copy.readUInt32BE(IPV4_SRC_OFFSET)), `10.10.10.${1 + step}`);
    }),
  );
});
