import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage, encodeMessage, encodeZlibFrame, isZlibFrame, TREX_ZLIB_MAGIC } from "./framing";

test("zlib framing round-trips any text, with the magic and the uncompressed length up front", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 2000 }), (text) => {
      const frame = encodeZlibFrame(text);
      assert.equal(frame.readUInt32BE(0), TREX_ZLIB_MAGIC);
      assert.equal(frame.readUInt32BE(4), Buffer.byteLength(text, "utf8"));
      assert.deepEqual(decodeMessage(frame), { text, compressed: true });
      assert.deepEqual(decodeMessage(encodeMessage(text, false)), { text, compressed: false });
    }),
  );
});

test("plain JSON is never mistaken for a frame; a damaged frame is an error", () => {
  fc.assert(fc.property(fc.json(), (json) => assert.equal(isZlibFrame(Buffer.from(json)), false)));
  const frame = encodeZlibFrame('{"jsonrpc":"2.0"}');
  frame.writeUInt32BE(3, 4);
  assert.throws(() => decodeMessage(frame), /declares 3 bytes but inflates to 17/);
  assert.throws(
    () => decodeMessage(Buffer.concat([frame.subarray(0, 8), Buffer.from("junk")])),
    /does not inflate/,
  );
});
