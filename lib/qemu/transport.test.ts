import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { decodeArgv, encodeArgv } from "./transport";
import { ArgvEncodingError } from "./errors";
import { buildQemuArgv } from "./argv";
import { localVm } from "./testSpec";

const awkward = [
  "/usr/bin/x",
  "",
  "two words",
  "it's",
  '"q"',
  "$(id)",
  "a\nb",
  "tab\tx",
  "ünï©ødé",
  "-",
  "*",
];

test("encode/decode round-trips awkward arguments", () => {
  assert.deepEqual(decodeArgv(encodeArgv(awkward)), awkward);
  assert.deepEqual(decodeArgv(encodeArgv([])), []);
  assert.deepEqual(decodeArgv(encodeArgv([""])), [""]);
});

test("the encoding is one base64 line of NUL-terminated arguments", () => {
  const b64 = encodeArgv(["a", "bc"]);
  assert.match(b64, /^[A-Za-z0-9+/]+=*$/);
  assert.deepEqual([...Buffer.from(b64, "base64")], [0x61, 0, 0x62, 0x63, 0]);
});

test("NUL bytes and lone surrogates cannot be transported", () => {
  assert.throws(() => encodeArgv(["a\0b"]), ArgvEncodingError);
  assert.throws(() => encodeArgv(["\ud800"]), ArgvEncodingError);
});

test("decode rejects what encode cannot produce", () => {
  assert.throws(() => decodeArgv("not base64!"), ArgvEncodingError);
  assert.throws(() => decodeArgv(Buffer.from("abc").toString("base64")), /NUL-terminated/);
  assert.throws(() => decodeArgv(Buffer.from([0xff, 0xfe, 0]).toString("base64")), /UTF-8/);
  assert.deepEqual(decodeArgv(`${encodeArgv(["a"])}\n`), ["a"], "a trailing newline is fine");
});

const bash = spawnSync("bash", ["-c", "command -v base64"], { encoding: "utf8" });
test(
  "bash decodes it exactly as scripts/vm.sh does (base64 -d | mapfile -d '')",
  { skip: bash.status !== 0 ? "bash or base64 missing" : false },
  () => {
    const argv = [...buildQemuArgv(localVm()), ...awkward];
    const script = `mapfile -d '' -t A < <(printf %s "$ARGV_B64" | base64 -d); printf '%s\\0' "\${#A[@]}" "\${A[@]}"`;
    const r = spawnSync("bash", ["-c", script], { env: { ...process.env, ARGV_B64: encodeArgv(argv) } });
    assert.equal(r.status, 0, r.stderr?.toString());
    const out = r.stdout.toString("utf8").split("\0").slice(0, -1);
    assert.equal(out[0], String(argv.length));
    assert.deepEqual(out.slice(1), argv);
  },
);
