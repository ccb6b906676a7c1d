import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The repository root: the nearest directory above this module that holds package.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`vhost-perf-lab: no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** Text of a file under scripts/ (shipped to hosts on the command's stdin). */
export function scriptText(relative: string): string {
  return fs.readFileSync(path.join(repoRoot(), "scripts", relative), "utf8");
}

/** Short, stable content hash for triggers and cache keys. */
export function contentHash(...parts: string[]): string {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 16);
}

/**
 * A deterministic .tar.gz (base64) of repo-relative paths, for shipping small file sets
 * (patch series, guest files, helpers) to a host inside a command's environment.
 */
export function bundle(paths: string[]): string {
  const tgz = execFileSync(
    "tar",
    [
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--use-compress-program=gzip -n",
      "-cf",
      "-",
      ...paths,
    ],
    { cwd: repoRoot(), maxBuffer: 64 * 1024 * 1024 },
  );
  return tgz.toString("base64");
}
