// A pass cache for the slowest machine tests whose inputs are few and known (the kernel VM test
// boots a GRUB VM twice under TCG: ~6 min). A pass is recorded under
// ~/.cache/vhost-perf-lab/test-pass/<name>-<sha256 of its input files>; the next run with the
// same inputs skips the test, saying so (node's runner counts it as skipped). Any change to one
// of the files, a fresh machine (no cache) or VPL_TEST_RERUN=1 runs it for real.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "./repo";

const DIR = path.join(os.homedir(), ".cache", "vhost-perf-lab", "test-pass");

/** Every file under the given repo-relative paths (directories walked), sorted. */
function filesUnder(rels: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    const st = fs.statSync(abs);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(abs).sort()) if (e !== "node_modules") walk(path.join(abs, e));
    } else out.push(abs);
  };
  for (const rel of rels) walk(path.join(repoRoot(), rel));
  return out.sort();
}

export interface PassCache {
  /** the marker's path */
  readonly marker: string;
  /** why the test may be skipped, or false: it has to run */
  readonly skip: string | false;
  /** record a pass (call at the very end of a passing test) */
  record(): void;
}

/** The cache entry of test `name` over its input files (repo-relative files or directories). */
export function passCache(name: string, inputs: readonly string[]): PassCache {
  const h = createHash("sha256");
  for (const f of filesUnder(inputs)) {
    h.update(path.relative(repoRoot(), f));
    h.update("\0");
    h.update(fs.readFileSync(f));
    h.update("\0");
  }
  const key = h.digest("hex").slice(0, 16);
  const marker = path.join(DIR, `${name}-${key}`);
  const hit = process.env["VPL_TEST_RERUN"] !== "1" && fs.existsSync(marker);
  return {
    marker,
    skip: hit
      ? `passed before on the same inputs (${name}-${key}, ${fs.readFileSync(marker, "utf8").trim()}); VPL_TEST_RERUN=1 runs it again`
      : false,
    record(): void {
      fs.mkdirSync(DIR, { recursive: true });
      fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    },
  };
}
