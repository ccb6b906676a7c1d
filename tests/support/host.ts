// What the tests that run the project's scripts on this machine share: where the scripts are,
// who runs the tests, which tools are here, the PATH the scripts get, temporary directories.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./repo";

export const ROOT = repoRoot();
/** A file under scripts/: scriptPath("guest-image", "deploy.sh"). */
export const scriptPath = (...parts: string[]): string => join(ROOT, "scripts", ...parts);
export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
/** Whether `cmd` is on PATH. */
export const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
/** The PATH a script under test runs with: the test's own. */
export const PATH = process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin";

/** Temporary directories of a test file: made by make(), removed by removeAll() (in afterEach). */
export class TempDirs {
  private readonly dirs: string[] = [];

  /** A new directory <tmp>/<prefix>XXXXXX. */
  make(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Removes every directory made so far; `first` runs on each before (e.g. to kill what runs there). */
  removeAll(first?: (dir: string) => void): void {
    for (const dir of this.dirs.splice(0)) {
      first?.(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
