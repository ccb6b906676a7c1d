import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HOST_KEY_TYPES, hostKeyScanCommand, parseHostKey } from "./hostKey";
import {
  HOST_KEY_1,
  HOST_KEY_ECDSA256,
  HOST_KEY_ECDSA384,
  HOST_KEY_ECDSA521,
  HOST_KEY_RSA,
} from "./testutil";

/** SSH wire format: uint32 length + bytes per field. */
function wire(...fields: (string | Buffer)[]): string {
  const parts = fields.map((f) => (typeof f === "string" ? Buffer.from(f, "latin1") : f));
  return Buffer.concat(
    parts.flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      return [len, p];
    }),
  ).toString("base64");
}

function refused(text: string, why: RegExp): string {
  const r = parseHostKey(text, { host: "192.0.2.11", port: 2222 });
  assert.equal(r.ok, false, `accepted: ${JSON.stringify(text)}`);
  if (r.ok) return "";
  assert.match(r.error, why);
  assert.match(r.fix, /ssh-keyscan -t ed25519 -p 2222 192\.0\.2\.11/);
  return r.fix;
}

describe("parseHostKey: the accepted form", () => {
  it("takes each key type's public key line, with or without a comment, normalized to '<type> <base64>'", () => {
    for (const line of [HOST_KEY_1, HOST_KEY_ECDSA256, HOST_KEY_ECDSA384, HOST_KEY_ECDSA521, HOST_KEY_RSA]) {
      const r = parseHostKey(line);
      assert.ok(r.ok, `${line}: ${r.ok ? "" : r.error}`);
      const [type, blob] = line.split(" ");
      assert.equal(r.type, type);
      assert.equal(r.blob, blob);
      assert.equal(r.line, `${type} ${blob}`);
    }
    const withComment = parseHostKey(`  ${HOST_KEY_1}   root@dut1 (lab)\n`);
    assert.ok(withComment.ok);
    assert.equal(withComment.line, HOST_KEY_1);
    assert.equal(withComment.comment, "root@dut1 (lab)");
    assert.equal(parseHostKey(`${HOST_KEY_1}\r\n`).ok, true, "a .pub file's CRLF line");
    const rsa = parseHostKey(HOST_KEY_RSA);
    assert.ok(rsa.ok && rsa.comment === "rsa host");
  });

  it("takes freshly generated keys of every type (property)", () => {
    const gen = {
      "ssh-ed25519": () => {
        const jwk = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" });
        return wire("ssh-ed25519", Buffer.from(jwk.x as string, "base64url"));
      },
      "ecdsa-sha2-nistp256": () => ec("P-256", "nistp256"),
      "ecdsa-sha2-nistp384": () => ec("P-384", "nistp384"),
      "ecdsa-sha2-nistp521": () => ec("P-521", "nistp521"),
      "ssh-rsa": () => {
        const jwk = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
        const mpint = (b64: string) => {
          const b = Buffer.from(b64, "base64url");
          return (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
        };
        return wire("ssh-rsa", mpint(jwk.e as string), mpint(jwk.n as string));
      },
    };
    function ec(curve: string, name: string): string {
      const jwk = generateKeyPairSync("ec", { namedCurve: curve }).publicKey.export({ format: "jwk" });
      const point = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(jwk.x as string, "base64url"),
        Buffer.from(jwk.y as string, "base64url"),
      ]);
      return wire(`ecdsa-sha2-${name}`, name, point);
    }
    fc.assert(
      fc.property(
        fc.constantFrom(...HOST_KEY_TYPES),
        fc.stringMatching(/^[A-Za-z0-9@._-]{0,20}$/),
        (type, c) => {
          const blob = gen[type]();
          const r = parseHostKey(`${type} ${blob}${c ? ` ${c}` : ""}`);
          assert.ok(r.ok, r.ok ? "" : r.error);
          assert.equal(r.line, `${type} ${blob}`);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("parseHostKey: everything else is refused with the ssh-keyscan fix", () => {
  it("refuses a missing or empty key", () => {
    refused("", /no host key/);
    refused("  \n\t\n", /no host key/);
  });

  it("refuses fingerprints", () => {
    const fix = refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", /fingerprint/);
    assert.ok(fix.includes("| cut -d' ' -f2-"), fix);
    refused("MD5:3b:9e:0f:4e:5a:6b:7c:8d:9e:0f:1a:2b:3c:4d:5e:6f", /fingerprint/);
    refused("3b:9e:0f:4e:5a:6b:7c:8d:9e:0f:1a:2b:3c:4d:5e:6f", /fingerprint/);
  });

  it("refuses known_hosts lines (plain, hashed, with a port, with a marker)", () => {
    refused(`192.0.2.11 ${HOST_KEY_1}`, /known_hosts line/);
    refused(`[192.0.2.11]:2222,dut1 ${HOST_KEY_1}`, /known_hosts line/);
    refused(`|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ${HOST_KEY_1}`, /known_hosts line/);
    refused(`@cert-authority *.lab ${HOST_KEY_1}`, /known_hosts line/);
  });

  it("refuses several lines, private keys, unknown types and control characters", () => {
    refused(`${HOST_KEY_1}\n${HOST_KEY_RSA}`, /2 lines/);
    const priv = refused(
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
      /private key/,
    );
    assert.ok(!priv.includes("b3BlbnNzaC1rZXktdjEAAAAA"));
    refused("ssh-dss AAAAB3NzaC1kc3MAAACBAP", /key type "ssh-dss" is not one of/);
    refused(`sk-${HOST_KEY_1}`, /is not one of/);
    refused(`${HOST_KEY_1} a\u0007b`, /control character \(U\+0007\)/);
    refused("---- BEGIN SSH2 PUBLIC KEY ----", /RFC 4716/);
  });

  it("refuses damaged key data: truncated, wrong type inside, wrong size, bad base64", () => {
    const blob = HOST_KEY_1.split(" ")[1] as string;
    refused("ssh-ed25519", /missing/);
    refused(`ssh-ed25519 ${blob.slice(0, 40)}`, /damaged or does not match its type/);
    refused(`ssh-rsa ${blob}`, /does not match its type/);
    refused(`ssh-ed25519 ${blob.replace(/A/g, "*")}`, /not base64/);
    refused(`ssh-ed25519 ${wire("ssh-ed25519", Buffer.alloc(31))}`, /32-byte/);
    refused(`ssh-ed25519 ${wire("ssh-ed25519", Buffer.alloc(32), "x")}`, /32-byte/);
    refused(
      `ecdsa-sha2-nistp256 ${wire("ecdsa-sha2-nistp256", "nistp384", Buffer.alloc(65, 4))}`,
      /nistp256 key/,
    );
    refused(`ecdsa-sha2-nistp256 ${wire("ecdsa-sha2-nistp256", "nistp256", Buffer.alloc(65, 2))}`, /point/);
    refused(`ssh-rsa ${wire("ssh-rsa", Buffer.from([1, 0, 1]))}`, /RSA public key/);
    // "...xB=" decodes like "...xA=" in a lenient decoder (the low bits are padding): not canonical
    const ecBlob = HOST_KEY_ECDSA256.split(" ")[1] as string;
    assert.ok(ecBlob.endsWith("xA="));
    refused(`ecdsa-sha2-nistp256 ${ecBlob.slice(0, -2)}B=`, /not canonical/);
  });

  it("any one-character change to a key line is refused or yields a different key (property)", () => {
    fc.assert(
      fc.property(fc.nat({ max: HOST_KEY_1.length - 1 }), fc.constantFrom(..."Aa0+/= :x-"), (i, ch) => {
        const text = HOST_KEY_1.slice(0, i) + ch + HOST_KEY_1.slice(i + 1);
        const r = parseHostKey(text);
        if (r.ok)
          assert.ok(text === HOST_KEY_1 || r.line !== HOST_KEY_1 || text.startsWith(`${HOST_KEY_1} `));
      }),
      { numRuns: 300 },
    );
  });

  it("names the scan command for the host, with a placeholder when it is unknown", () => {
    assert.equal(
      hostKeyScanCommand({ host: "dut1", port: 22 }),
      "ssh-keyscan -t ed25519 -p 22 dut1 | cut -d' ' -f2-",
    );
    assert.equal(hostKeyScanCommand(), "ssh-keyscan -t ed25519 -p 22 <host> | cut -d' ' -f2-");
  });
});
