/**
 * Helpers of the tests that run the DUT scripts (scripts/dut-*.sh) for real against fake /proc
 * and /sys trees in temporary directories: runs (plain, cancelled by a signal mid-way, with a
 * broken stderr), byte-exact tree snapshots, and stand-ins for the few programs a fake tree
 * cannot cover (mount, umount, and a `cat` that stalls on one file to hold a script mid-way).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { has, PATH, ROOT, scriptPath as script } from "../../tests/support/host";

export { isRoot } from "../../tests/support/host";
export { has, ROOT, script };
export const canRun = has("bash") && has("base64") && existsSync(script("dut-sysctl.sh"));
export const noBash: string | false = !canRun && "bash missing";

/** Real kernel files that read fine and refuse every write, even root's (distinct contents). */
function findUnwritable(): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const f of [
    "/proc/sys/kernel/ngroups_max",
    "/sys/devices/system/cpu/possible",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/cap_last_cap",
  ]) {
    if (!existsSync(f)) continue;
    // writing back the value it reads: harmless even if the write went through
    const r = spawnSync("bash", ["-c", 'v=$(cat "$1") && printf "%s\\n" "$v" >"$1"', "-", f]);
    const v = readFileSync(f, "utf8");
    if (r.status !== 0 && !seen.has(v)) {
      found.push(f);
      seen.add(v);
    }
  }
  return found;
}
/** [0]: stands for a refused write; [1] (another value): for one that changed by itself */
export const UNWRITABLE = canRun ? findUnwritable() : [];
export const noUnwritable: string | false =
  noBash || (UNWRITABLE.length === 0 && "no read-only kernel file to stand for a refused write");

export interface Run {
  status: number | null;
  signal?: string | null;
  stdout: string;
  stderr: string;
}

function fullEnv(env: Record<string, string>): Record<string, string> {
  const { PATH_PREFIX, ...rest } = env;
  return { PATH: PATH_PREFIX ? `${PATH_PREFIX}:${PATH}` : PATH, ...rest };
}

/** env.PATH_PREFIX (e.g. a directory of stand-ins) goes in front of PATH. */
export function run(path: string, action: string, env: Record<string, string>): Run {
  const r = spawnSync("bash", [path, action], { env: fullEnv(env), encoding: "utf8", timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Run the script in its own process group, wait until `ready` exists (a stand-in signals it
 * holds the script mid-way), then send `signal` to the whole group, as the command provider
 * does when the user cancels.
 */
export async function runCancelled(
  path: string,
  action: string,
  env: Record<string, string>,
  ready: string,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<Run & { reached: boolean }> {
  const child = spawn("bash", [path, action], { env: fullEnv(env), detached: true });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<{ status: number | null; signal: string | null }>((resolve) =>
    child.on("close", (status, sig) => resolve({ status, signal: sig })),
  );
  let reached = false;
  let done = false;
  void closed.then(() => (done = true));
  for (let i = 0; i < 300 && !done; i++) {
    if (existsSync(ready)) {
      reached = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (reached) process.kill(-child.pid!, signal);
  else if (!done) process.kill(-child.pid!, "SIGKILL");
  const end = await closed;
  return { ...end, stdout, stderr, reached };
}

/**
 * Run the script with its stderr on a pipe nobody reads any more (a dropped SSH connection
 * without the wrapper's `tee -p`): the first write to it raises SIGPIPE / fails with EPIPE.
 * status 128+n when the script died of signal n. (python3 starts it with SIGPIPE's default.)
 */
export function runBrokenStderr(path: string, action: string, env: Record<string, string>): Run {
  const py =
    "import os, subprocess, sys\n" +
    "r, w = os.pipe()\n" +
    "os.close(r)\n" +
    "rc = subprocess.call(sys.argv[1:], stderr=w)\n" +
    "sys.exit(128 - rc if rc < 0 else rc)\n";
  const r = spawnSync("python3", ["-c", py, "bash", path, action], {
    env: fullEnv(env),
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
export const noPython: string | false = !has("python3") && "python3 missing";

/** The one JSON line of a successful run. */
export function ok(r: Run): Record<string, unknown> {
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** A failed run: exit 1 (or `status`), nothing on stdout, the messages match. */
export function fails(r: Run, ...messages: RegExp[]): void {
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  for (const m of messages) assert.match(r.stderr, m);
}

/** Every file, symlink and directory below root with its content: byte-exact comparisons. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = p.slice(root.length);
      if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = "<dir>";
        walk(p);
      } else out[rel] = readFileSync(p).toString("latin1") + ` <mode ${st.mode.toString(8)}>`;
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

export function put(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

export function link(root: string, rel: string, target: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  rmSync(join(root, rel), { force: true });
  symlinkSync(target, join(root, rel));
}

export const read = (p: string): string => readFileSync(p, "utf8");

export interface Tmp {
  /** the fake proc and sys trees (tree/proc, tree/sys) */
  tree: string;
  /** LAB_STATE_DIR of the tests that use one stack */
  state: string;
  root: string;
}

/** A temporary lab: tree/ (the fake proc and sys), state/ (LAB_STATE_DIR), removed afterwards. */
export function withTmp<T>(fn: (dir: Tmp) => T): T {
  const root = mkdtempSync(join(tmpdir(), "tuning-"));
  const tree = join(root, "tree");
  mkdirSync(tree);
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  try {
    const r = fn({ tree, state: join(root, "state"), root });
    if (r instanceof Promise) {
      return r.finally(cleanup) as T;
    }
    cleanup();
    return r;
  } catch (e) {
    cleanup();
    throw e;
  }
}

function executable(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
  chmodSync(path, 0o755);
}

const realCat = canRun
  ? spawnSync("sh", ["-c", "command -v cat"], { encoding: "utf8" }).stdout.trim()
  : "cat";

/**
 * Stand-ins in dir (put it first in PATH with PATH_PREFIX):
 *  - mount / umount: keep the fake mounts file FAKE_MOUNTS (a /proc/mounts) as the real ones
 *    keep /proc/mounts; FAKE_MOUNT_FAIL / FAKE_UMOUNT_FAIL = message makes them fail (mount
 *    only for a target matching the pattern FAKE_MOUNT_FAIL_ON, when set);
 *    FAKE_MOUNT_STALL = a file mount creates, then waits 30 s (a script held mid-apply)
 *  - cat: the STALL_AT-th read of the file STALL_FILE creates STALL_READY, then waits 30 s;
 *    every other read is the real cat
 */
export function fakeBin(dir: string): string {
  executable(
    join(dir, "mount"),
    `#!/bin/bash
# mount -t hugetlbfs -o pagesize=<size> -- nodev <target>
if [ -n "\${FAKE_MOUNT_FAIL:-}" ]; then
  case "\${!#}" in \${FAKE_MOUNT_FAIL_ON:-*}) echo "mount: $FAKE_MOUNT_FAIL" >&2; exit 32 ;; esac
fi
if [ -n "\${FAKE_MOUNT_STALL:-}" ]; then : >"$FAKE_MOUNT_STALL"; sleep 30; fi
opts=""; prev=""
for a in "$@"; do [ "$prev" != -o ] || opts=$a; prev=$a; done
t=\${!#}
[ -d "$t" ] || { echo "mount: $t: mount point does not exist." >&2; exit 32; }
printf 'nodev %s hugetlbfs rw,relatime,%s 0 0\\n' "$t" "$opts" >>"$FAKE_MOUNTS"
`,
  );
  executable(
    join(dir, "umount"),
    `#!/bin/bash
t=\${!#}
[ -z "\${FAKE_UMOUNT_FAIL:-}" ] || { echo "umount: $t: $FAKE_UMOUNT_FAIL" >&2; exit 32; }
awk -v m="$t" '$2 == m {found = 1} END {exit !found}' "$FAKE_MOUNTS" || { echo "umount: $t: not mounted." >&2; exit 32; }
awk -v m="$t" '$2 != m' "$FAKE_MOUNTS" >"$FAKE_MOUNTS.new" && mv "$FAKE_MOUNTS.new" "$FAKE_MOUNTS"
`,
  );
  executable(
    join(dir, "cat"),
    `#!/bin/bash
if [ -n "\${STALL_FILE:-}" ] && [ "\${!#}" = "$STALL_FILE" ]; then
  n=$(( $(${realCat} "$STALL_READY.count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$STALL_READY.count"
  if [ "$n" = "\${STALL_AT:-1}" ]; then : >"$STALL_READY"; sleep 30; fi
fi
exec ${realCat} "$@"
`,
  );
  return dir;
}

/** shellcheck -x of the script (run from the repository root) */
export function shellcheck(path: string): void {
  const r = spawnSync("shellcheck", ["-x", path], { encoding: "utf8", cwd: ROOT });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}
