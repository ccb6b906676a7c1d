import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { isSecureObject, Secret } from "./secret";

describe("Secret", () => {
  it("never shows its value when printed", () => {
    const s = Secret.plain("hunter2");
    assert.equal(String(s), "[secret]");
    assert.equal(`${s}`, "[secret]");
    assert.equal(JSON.stringify({ s }), '{"s":"[secret]"}');
    assert.ok(!inspect({ nested: { s } }, { depth: 5 }).includes("hunter2"));
    assert.equal(s.reveal(), "hunter2");
  });

  it("keeps ciphertext and refuses to reveal it", () => {
    const s = Secret.encrypted("v1:abc:def");
    assert.equal(s.encrypted, true);
    assert.equal(s.ciphertext(), "v1:abc:def");
    assert.throws(() => s.reveal(), /still Pulumi ciphertext/);
    assert.ok(!inspect(s).includes("v1:abc"));
  });

  it("compares by content under deepStrictEqual", () => {
    assert.deepStrictEqual(Secret.plain("a"), Secret.plain("a"));
    assert.notDeepStrictEqual(Secret.plain("a"), Secret.plain("b"));
    assert.notDeepStrictEqual(Secret.plain("a"), Secret.encrypted("a"));
  });

  it("recognises {secure: ...} objects", () => {
    assert.ok(isSecureObject({ secure: "v1:x" }));
    assert.ok(!isSecureObject({ secure: 1 }));
    assert.ok(!isSecureObject({ secure: "x", other: 1 }));
    assert.ok(!isSecureObject("v1:x"));
  });
});
