import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { shellJoin, shellQuote } from "./shell";

test("shellQuote: any string survives a real shell unchanged", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ unit: "binary" }).map((s) => s.replace(/\0/g, "")),
        { maxLength: 4 },
      ),
      (words) => {
        const out = execFileSync("bash", ["-c", `printf '%s\\0' ${shellJoin(words)}`], { encoding: "utf8" });
        const got = words.length === 0 ? [""] : out.split("\0").slice(0, -1);
        assert.deepEqual(got, words.length === 0 ? [""] : words);
      },
    ),
    { numRuns: 60 },
  );
});

test("shellQuote: metacharacters are inert", () => {
  assert.equal(shellQuote("a'b; rm -rf /"), `'a'\\''b; rm -rf /'`);
});
