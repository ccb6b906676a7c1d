/**
 * scripts/local-sshd.sh, for real (root, openssh-server): up/down leave nothing, and a first up
 * that fails (its port is taken) stops what it started and removes the directories it made.
 * Ports 2045/2046 on 127.0.0.1, directories under a temp dir: never the lab's own.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { has, isRoot, scriptPath } from "./support/host";

const SSHD = scriptPath("local-sshd.sh");
const skip = !(isRoot && has("/usr/sbin/sshd") && has("ssh-keyscan")) && "needs root and openssh-server";
const root = mkdtempSync(join(tmpdir(), "vpl-sshd-"));
const dir = join(root, "stacks", "t", "sshd");

function run(action: string, port: number): { code: number | null; stderr: string } {
  const r = spawnSync("bash", [SSHD, action], {
    env: { ...process.env, LAB_SSHD_DIR: dir, LAB_SSHD_PORT: String(port) },
    encoding: "utf8",
  });
  return { code: r.status, stderr: r.stderr };
}
const sshdOf = (): string[] =>
  spawnSync("pgrep", ["-f", `${dir}/sshd_config`], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);

after(() => {
  if (existsSync(dir)) run("down", 2045);
  rmSync(root, { recursive: true, force: true });
});

test("local-sshd: up answers on its port, down leaves no process and no directory", { skip }, () => {
  const up = run("up", 2045);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(sshdOf().length, 1, "one sshd-lab listener for the dir");
  const down = run("down", 2045);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(sshdOf(), []);
  assert.deepEqual(readdirSync(root), [], "the stack dir and the stacks dir above it are gone");
});

test(
  "local-sshd: a first up whose port is taken undoes itself (no sshd, no dir left)",
  { skip },
  async () => {
    const blocker = net.createServer();
    await new Promise<void>((res) => blocker.listen(2046, "127.0.0.1", res));
    try {
      const up = spawnSync("bash", [SSHD, "up"], {
        env: { ...process.env, LAB_SSHD_DIR: dir, LAB_SSHD_PORT: "2046" },
        encoding: "utf8",
      });
      assert.equal(up.status, 1, up.stderr);
      assert.match(up.stderr, /did not answer on 127\.0\.0\.1:2046/);
      assert.match(up.stderr, /up failed \(exit 1\): undoing it/);
      assert.deepEqual(sshdOf(), [], "the sshd it started is stopped");
      assert.deepEqual(readdirSync(root), [], "the dirs it made are removed");
    } finally {
      blocker.close();
    }
  },
);
