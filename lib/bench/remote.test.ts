import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hostKeyAlgorithms, LocalExec, pinnedHostKey, runChecked, shQuote, SshExec, withEnv } from "./remote";

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

describe("host key pins (the contract's one form)", () => {
  const blob = ed25519Blob();
  const line = `ssh-ed25519 ${blob.toString("base64")} root@dut`;
  const at = { host: "192.0.2.1", port: 2022 };

  it("takes the public key line and compares the key itself", () => {
    const pin = pinnedHostKey({ ...at, hostKey: line });
    assert.equal(pin.type, "ssh-ed25519");
    assert.ok(pin.blob.equals(blob));
    assert.deepEqual(hostKeyAlgorithms("ssh-ed25519"), ["ssh-ed25519"]);
    assert.deepEqual(hostKeyAlgorithms("ssh-rsa"), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
  });

  it("refuses fingerprints, known_hosts lines and a missing key, with the ssh-keyscan fix", () => {
    const fp = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
    for (const [hostKey, why] of [
      [fp, /fingerprint/],
      [`[192.0.2.1]:2022 ${line}`, /known_hosts/],
      ["", /no host key/],
      [undefined, /no host key/],
    ] as const) {
      assert.throws(
        () => pinnedHostKey({ ...at, ...(hostKey === undefined ? {} : { hostKey }) }),
        (e: unknown) =>
          e instanceof Error &&
          why.test(e.message) &&
          /refusing to connect/.test(e.message) &&
          e.message.includes("ssh-keyscan -t ed25519 -p 2022 192.0.2.1 | cut -d' ' -f2-"),
      );
    }
  });

  it("SshExec refuses a missing or fingerprint pin before it connects", async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const base = {
        transport: "ssh" as const,
        host: "127.0.0.1",
        port,
        user: "root",
        privateKey: "x",
        readyTimeoutMs: 2000,
      };
      const fp = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
      for (const hostKey of ["", fp]) {
        await assert.rejects(SshExec.connect({ ...base, hostKey }), /refusing to connect/);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(connections, 0, "no connection was attempted");
    } finally {
      server.close();
    }
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
