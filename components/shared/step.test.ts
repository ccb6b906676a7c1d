// scripts/lib/step.sh run exactly as the command provider runs a host step (the same command
// string from stepCommand(), the same stdin from stepStdin()), here with bash instead of SSH:
// secrets as 0600 files and never in argv, the liveness record and the probe (incl. a "reboot"),
// the host lock, the undo of a finished step whose result cannot be sent back, and TERM.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundle } from "./scripts";
import { stepCommand, stepStdin } from "./hostScript";

const root = process.getuid?.() === 0;
const skip = !root && "needs root (writes /var/lib/vhost-perf-lab/<stack> like a real step)";
const stack = `steptest-${process.pid}`;
const stateDir = `/var/lib/vhost-perf-lab/${stack}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "vpl-steptest-"));
const bootIdFile = path.join(work, "boot_id");
fs.writeFileSync(bootIdFile, "boot-1\n");
const createdRoot = !fs.existsSync("/var/lib/vhost-perf-lab");

after(() => {
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.rmSync(`/run/vhost-perf-lab/${stack}`, { recursive: true, force: true });
  if (createdRoot) fs.rmSync("/var/lib/vhost-perf-lab", { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

// a tiny step script shipped in the bundle like the real ones: scripts/lib/step.sh + this file
const script = "steptest-probe.sh";
const scriptPath = path.join(__dirname, "..", "..", "..", "scripts", script);

function withScript<T>(text: string, fn: () => T): T {
  fs.writeFileSync(scriptPath, text, { mode: 0o755 });
  try {
    return fn();
  } finally {
    fs.rmSync(scriptPath, { force: true });
  }
}

function payload(text: string): string {
  return withScript(text, () => bundle(["scripts/lib/step.sh", `scripts/${script}`]));
}

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env["PATH"],
  HOME: os.homedir(),
  VPL_STACK: stack,
  VPL_BOOT_ID_FILE: bootIdFile,
  // a step with a probe keeps a liveness record (what the provider sets for such steps)
  PULUMI_COMMAND_READ: "probe",
  ...extra,
});

function runStep(words: string[], stdin: string, extra: Record<string, string> = {}) {
  return spawnSync("bash", ["-c", stepCommand(words)], { input: stdin, env: env(extra), encoding: "utf8" });
}

const REPORT = `#!/usr/bin/env bash
set -euo pipefail
case "\${1:-}" in
  up)
    perm=$(stat -c %a "$MY_SECRET")
    printf '[t] secret file mode %s\\n' "$perm" >&2
    sleep "\${STEP_SLEEP:-0}"
    printf '{"secret":"%s","perm":"%s","stack":"%s","run":"%s"}\\n' "$(base64 -w0 <"$MY_SECRET")" "$perm" "$LAB_STACK" "$LAB_RUN_DIR" ;;
  down) : >"$MARK_FILE"; echo '{}' ;;
  status) exit "\${STATUS_RC:-0}" ;;
esac
`;

test("step.sh: secrets reach the script as 0600 files, never in any command line", { skip }, async () => {
  const secret = "s3cr3t 'with' \"quotes\"\nand a newline";
  const stdin = stepStdin(payload(REPORT), [["MY_SECRET", secret]]);
  const child = spawn("bash", ["-c", stepCommand(["up", "exclusive", "t-secret", script, "up"])], {
    env: env({ STEP_SLEEP: "1" }),
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.end(stdin);
  const seen: string[] = [];
  const done = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  let running = true;
  void done.then(() => (running = false));
  while (running) {
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        seen.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"));
      } catch {
        // gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(await done, 0);
  const result = JSON.parse(out.trim().split("\n").pop()!) as Record<string, string>;
  assert.equal(result["perm"], "600");
  assert.equal(Buffer.from(result["secret"]!, "base64").toString("utf8"), secret);
  assert.equal(result["stack"], stack);
  assert.equal(result["run"], `/run/vhost-perf-lab/${stack}`);
  assert.ok(seen.length > 50, "sampled command lines while the step ran");
  assert.ok(!seen.some((c) => c.includes("s3cr3t")), "the secret was in a command line");
  assert.deepEqual(
    fs
      .readdirSync("/tmp")
      .filter((f) => f.startsWith("vpl-step.") && fs.existsSync(`/tmp/${f}/scripts/${script}`)),
    [],
    "the step's private dir is gone",
  );
});

test(
  "step.sh probe: alive, gone after a reboot, gone when the status call exits 3, gone without record",
  { skip },
  () => {
    const stdin = stepStdin(payload(REPORT), [["MY_SECRET", "x"]]);
    assert.equal(runStep(["up", "exclusive", "t-probe", script, "up"], stdin).status, 0);
    assert.ok(fs.existsSync(`${stateDir}/steps/t-probe`), "liveness record written");
    const probe = (kind: string, extra: Record<string, string> = {}) =>
      runStep(["probe", kind, "t-probe", script, "status"], stdin, extra).status;
    assert.equal(probe("boot"), 0);
    assert.equal(probe("boot", { STATUS_RC: "3" }), 3, "status exit 3 = gone");
    assert.equal(probe("boot", { STATUS_RC: "1" }), 2, "status failing otherwise = cannot tell");
    fs.writeFileSync(bootIdFile, "boot-2\n");
    assert.equal(probe("boot"), 3, "a boot step is gone after a reboot");
    assert.equal(probe("persistent"), 0, "a persistent step survives it");
    fs.writeFileSync(bootIdFile, "boot-1\n");
    assert.equal(
      runStep(["down", "exclusive", "t-probe", script, "down"], stdin, { MARK_FILE: path.join(work, "m") })
        .status,
      0,
    );
    assert.ok(!fs.existsSync(`${stateDir}/steps/t-probe`), "down removes the record");
    assert.equal(probe("boot"), 3, "no record = gone");
  },
);

test(
  "step.sh: a finished up whose result cannot be sent back is undone with its teardown",
  { skip },
  async () => {
    const stdin = stepStdin(payload(REPORT), [["MY_SECRET", "x"]]);
    const mark = path.join(work, "undone");
    // stdout is a pipe whose reader is gone before the script ends: the "connection" dropped
    const errFile = path.join(work, "lost.err");
    const child = spawn("bash", ["-c", stepCommand(["up", "exclusive", "t-lost", script, "up"])], {
      env: env({ STEP_SLEEP: "1", LAB_STEP_DOWN: `${script} down`, MARK_FILE: mark }),
      stdio: ["pipe", "pipe", fs.openSync(errFile, "w")],
    });
    child.stdin!.end(stdin);
    child.stdout!.destroy();
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    assert.notEqual(code, 0, "the step must report failure");
    assert.ok(fs.existsSync(mark), `the teardown ran; stderr:\n${fs.readFileSync(errFile, "utf8")}`);
    assert.match(fs.readFileSync(errFile, "utf8"), /connection lost after step t-lost: undoing it/);
    assert.ok(!fs.existsSync(`${stateDir}/steps/t-lost`), "no liveness record left");
  },
);

test("step.sh: the host lock makes a second step wait, and says so", { skip }, async () => {
  const stdin = stepStdin(payload(REPORT), [["MY_SECRET", "x"]]);
  const held = path.join(work, "held");
  const holder = spawn("flock", ["-x", "/run/lock", "sh", "-c", `: >${held}; sleep 2`], { stdio: "ignore" });
  while (!fs.existsSync(held)) await new Promise((r) => setTimeout(r, 50));
  const locks = fs.readFileSync("/proc/locks", "utf8");
  const dirIno = fs.statSync("/run/lock").ino;
  assert.ok(
    locks.includes(`:${dirIno} `),
    `the holder has no lock on /run/lock (inode ${dirIno}):\n${locks.slice(0, 400)}`,
  );
  const t0 = Date.now();
  const r = runStep(["up", "exclusive", "t-lock", script, "up"], stdin);
  holder.kill();
  assert.equal(r.status, 0);
  assert.ok(Date.now() - t0 >= 1000, "the step did not wait for the lock");
  assert.match(r.stderr, /waiting for the host lock/);
  runStep(["down", "exclusive", "t-lock", script, "down"], stdin, { MARK_FILE: path.join(work, "m2") });
});

test("step.sh: TERM reaches the script, the runner still cleans its private dir", { skip }, async () => {
  const trapScript = `#!/usr/bin/env bash
set -euo pipefail
trap 'echo "[t] undo on TERM" >&2; : >"$MARK_FILE"; exit 143' TERM
echo "[t] started" >&2
sleep 30 & wait
`;
  const stdin = stepStdin(payload(trapScript), []);
  const mark = path.join(work, "term");
  const runId = `t-term-${process.pid}`;
  const child = spawn("bash", ["-c", stepCommand(["up", "exclusive", "t-term", script, "up"])], {
    env: env({ MARK_FILE: mark, PULUMI_COMMAND_RUN_ID: runId }),
  });
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  child.stdin.end(stdin);
  while (!err.includes("started")) await new Promise((r) => setTimeout(r, 50));
  // what the provider's cancel does: TERM to every process of the run (found by its run id)
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (
        fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`PULUMI_COMMAND_RUN_ID=${runId}`)
      )
        process.kill(Number(pid), "SIGTERM");
    } catch {
      // gone
    }
  }
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  assert.notEqual(code, 0);
  assert.ok(fs.existsSync(mark), "the script's TERM trap (its undo) ran");
  assert.match(err, /undo on TERM/, "the undo's messages still reached the engine");
  assert.deepEqual(
    fs
      .readdirSync("/tmp")
      .filter((f) => f.startsWith("vpl-step.") && fs.existsSync(`/tmp/${f}/scripts/${script}`)),
    [],
  );
});
