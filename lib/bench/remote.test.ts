import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hostKeyMatches, LocalExec, runChecked, shQuote, withEnv } from "./remote";

/** The SSH wire blob of an ed25519 public key: string "ssh-ed25519", string <32 bytes>. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]);
}

describe("shell quoting", () => {
  it("leaves plain words alone and quotes the rest", () => {
    assert.equal(shQuote("/run/vhost-perf-lab/a.pid"), "/run/vhost-perf-lab/a.pid");
    assert.equal(shQuote("a b"), "'a b'");
    assert.equal(shQuote("it's"), "'it'\\''s'");
    assert.equal(shQuote(""), "''");
    assert.equal(withEnv({ A: "1", B: "x y" }, "bash -s"), "env A=1 B='x y' bash -s");
    assert.throws(() => withEnv({ "A-B": "1" }, "true"));
  });

  it("round-trips any string through bash (property)", async () => {
    const exec = new LocalExec();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), async (s) => {
        const clean = s.replace(/\0/g, "");
        const r = await exec.run(`printf %s ${shQuote(clean)}`);
        assert.equal(r.stdout, clean);
      }),
      { numRuns: 40 },
    );
  });
});

describe("host key pins", () => {
  it("accepts the key itself or its SHA256 fingerprint, and nothing else", () => {
    const blob = ed25519Blob();
    const other = ed25519Blob();
    const line = `ssh-ed25519 ${blob.toString("base64")} comment`;
    const fp = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
    assert.ok(hostKeyMatches(line, blob));
    assert.ok(hostKeyMatches(fp, blob));
    assert.ok(!hostKeyMatches(line, other));
    assert.ok(!hostKeyMatches(fp, other));
    assert.ok(!hostKeyMatches("ssh-ed25519", blob));
  });
});

describe("LocalExec", () => {
  it("passes stdin, separates stdout/stderr, reports the exit status", async () => {
    const exec = new LocalExec();
    const r = await exec.run("bash -s -- x", { stdin: 'echo "out $1"; echo err >&2; exit 3' });
    assert.deepEqual(r, { code: 3, stdout: "out x\n", stderr: "err\n", timedOut: false });
    await assert.rejects(
      runChecked(exec, "thing", "echo nope >&2; false"),
      /local: thing failed \(exit 1\):\n\s+nope/,
    );
  });

  it("kills a command at its timeout", async () => {
    const t = Date.now();
    const r = await new LocalExec().run("sleep 5", { timeoutMs: 200 });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
    assert.ok(Date.now() - t < 3000);
  });
});
