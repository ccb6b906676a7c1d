/**
 * Message framing on TRex's RPC socket. A message is either plain UTF-8 JSON or, optionally, a
 * compressed frame: 4 bytes magic 0xABE85CEA, 4 bytes big-endian length of the uncompressed text,
 * then the text deflated with a zlib header. TRex's Python client compresses every request and
 * the server answers in kind; a plain request gets a plain reply (seen on v3.08, DESIGN.md §7).
 */
import * as zlib from "node:zlib";

export const TREX_ZLIB_MAGIC = 0xabe85cea;
const HEADER_BYTES = 8;

/** Wraps a JSON text into a compressed frame. */
export function encodeZlibFrame(text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(TREX_ZLIB_MAGIC, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, zlib.deflateSync(body)]);
}

/** True when the bytes start with the compressed-frame magic. */
export function isZlibFrame(bytes: Uint8Array): boolean {
  return (
    bytes.length >= HEADER_BYTES &&
    Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0) === TREX_ZLIB_MAGIC
  );
}

/** The JSON text of a message, plain or compressed; throws on a damaged frame. */
export function decodeMessage(bytes: Uint8Array): { text: string; compressed: boolean } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isZlibFrame(buf)) return { text: buf.toString("utf8"), compressed: false };
  const declared = buf.readUInt32BE(4);
  let body: Buffer;
  try {
    body = zlib.inflateSync(buf.subarray(HEADER_BYTES));
  } catch (err) {
    throw new Error(`TRex zlib frame does not inflate: ${(err as Error).message}`);
  }
  if (body.length !== declared) {
    throw new Error(`TRex zlib frame declares ${declared} bytes but inflates to ${body.length}`);
  }
  return { text: body.toString("utf8"), compressed: true };
}

/** Encodes a JSON text the way the caller wants it sent. */
export function encodeMessage(text: string, compress: boolean): Buffer {
  return compress ? encodeZlibFrame(text) : Buffer.from(text, "utf8");
}
