/**
 * The invalid-config corpus: testdata/invalid/*.yaml. Each file names the error paths it must
 * produce ("# expect: <path>", all of them: no more, no fewer) and optionally text the
 * messages must contain ("# expect-text: ..."). Files are read exactly as lab-check reads them.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkStackFile } from "./check";
import { formatErrors } from "./errors";
import { repoRoot } from "./testutil";

const dir = join(repoRoot(), "lib", "lab", "testdata", "invalid");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function directives(text: string, name: string): string[] {
  const re = new RegExp(`^# ${name}: (.+)$`, "gm");
  return [...text.matchAll(re)].map((m) => (m[1] as string).trim());
}

describe("invalid config corpus", () => {
  it("has at least 40 files, each naming an expected path", () => {
    assert.ok(files.length >= 40, `only ${files.length} files`);
    for (const f of files) {
      assert.ok(
        directives(readFileSync(join(dir, f), "utf8"), "expect").length > 0,
        `${f} has no '# expect:' line`,
      );
    }
  });

  for (const f of files) {
    it(f, () => {
      const path = join(dir, f);
      const text = readFileSync(path, "utf8");
      const { lab, errors, locate } = checkStackFile(path);
      assert.equal(lab, undefined, "the file was accepted");
      const got = [...new Set(errors.map((e) => e.path))].sort();
      const want = [...new Set(directives(text, "expect"))].sort();
      const shown = formatErrors(errors, { source: f });
      assert.deepEqual(got, want, `error paths differ:\n${shown}`);
      for (const e of errors) {
        assert.ok(
          e.expected.length > 0 && e.found.length > 0,
          `empty expected/found in ${JSON.stringify(e)}`,
        );
      }
      for (const t of directives(text, "expect-text")) {
        assert.ok(shown.includes(t), `message lacks ${JSON.stringify(t)}:\n${shown}`);
      }
      // nothing that looks like key material or a password from the file is echoed back
      for (const secret of [
        "BEGIN OPENSSH PRIVATE KEY",
        "b3BlbnNzaC1rZXktdjEAAAAA",
        "hunter2-guest",
        "v1:AAAA:BBBB",
      ]) {
        assert.ok(!shown.includes(secret), `${secret} appears in the errors`);
      }
      // each error points at a line of the file
      for (const e of errors) {
        if (e.path.startsWith("vhost-perf-lab:"))
          assert.notEqual(locate(e.path), undefined, `no line for ${e.path}`);
      }
    });
  }
});
