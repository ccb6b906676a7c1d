/**
 * The remote side of lib/qemu: scripts/vm.sh (inputs, idempotent stop/status without a VM) and
 * scripts/qmp.py (against a fake QMP server). No QEMU needed; skipped where bash/python3/root
 * are missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { has, isRoot, PATH, scriptPath } from "../../tests/support/host";
import { vmScriptEnv } from "./script";
import { localVm } from "./testSpec";

const VM_SH = scriptPath("vm.sh");
const QMP_PY = scriptPath("qmp.py");
const canRunVmSh = has("bash") && has("python3") && isRoot && existsSync(VM_SH);

function vmEnv(dir: string): Record<string, string> {
  const spec = localVm({
    runDir: join(dir, "run"),
    diskImage: join(dir, "run", "vm1-overlay.qcow2"),
    vhostUser: [{ socketPath: join(dir, "vhu-1.sock") }, { socketPath: join(dir, "vhu-2.sock") }],
  });
  return vmScriptEnv(spec, { baseImage: join(dir, "base.qcow2"), qgaPy: join(dir, "qga.py"), qmpPy: QMP_PY });
}

function runVm(cmd: string, env: Record<string, string>) {
  const r = spawnSync("bash", [VM_SH, cmd], { env: { PATH, ...env } });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test("shellcheck -x scripts/vm.sh is clean", { skip: !has("shellcheck") && "shellcheck missing" }, () => {
  const r = spawnSync("shellcheck", ["-x", VM_SH], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test(
  "vm.sh stop of a VM that never ran: success, one JSON line; status: exit 3 (gone)",
  { skip: !canRunVmSh },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "vm-sh-"));
    try {
      const env = vmEnv(dir);
      for (let i = 0; i < 2; i++) {
        const r = runVm("stop", env);
        assert.equal(r.status, 0, r.stderr);
        const lines = r.stdout.trim().split("\n");
        assert.equal(lines.length, 1);
        assert.deepEqual(JSON.parse(lines[0]!), {
          action: "stop",
          vm: "vm1",
          state: "stopped",
          pid: null,
          how: "not-running",
          logsKept: false,
        });
      }
      // the drift probe's contract: 0 = still there, 3 = gone
      const s = runVm("status", env);
      assert.equal(s.status, 3, s.stderr);
      assert.equal(JSON.parse(s.stdout).state, "stopped");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("vm.sh refuses inputs that disagree with the argv", { skip: !canRunVmSh }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vm-sh-"));
  try {
    const env = vmEnv(dir);
    const bad = runVm("start", { ...env, VM_PIDFILE: join(dir, "other.pid") });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /\[vm vm1 \d+s\] ERROR: VM_PIDFILE=.* but the QEMU argv says -pidfile is/);
    assert.equal(bad.stdout, "");
    const name = runVm("start", { ...env, VM_NAME: "vm2" });
    assert.match(name.stderr, /VM_NAME=vm2 but the argv's -name is 'vm1'/);
    const mode = runVm("start", { ...env, VM_GUEST_TESTPMD: "rxonly" });
    assert.match(mode.stderr, /VM_GUEST_TESTPMD must be off, io or mac/);
    const garbage = runVm("start", { ...env, VM_ARGV_B64: "%%%" });
    assert.match(garbage.stderr, /not base64/);
    const usage = runVm("restart", env);
    assert.equal(usage.status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vm.sh start checks the hugepage pool before launching anything", { skip: !canRunVmSh }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vm-sh-"));
  try {
    const env = vmEnv(dir);
    // mem-path that does not exist: a clear error, no QEMU, no overlay
    const spec = localVm({
      hugepagesPath: join(dir, "no-hugepages"),
      runDir: join(dir, "run"),
      diskImage: join(dir, "run", "vm1-overlay.qcow2"),
      vhostUser: [{ socketPath: join(dir, "vhu-1.sock") }, { socketPath: join(dir, "vhu-2.sock") }],
    });
    const r = runVm("start", {
      ...env,
      ...vmScriptEnv(spec, { baseImage: join(dir, "base.qcow2"), qgaPy: "/nonexistent", qmpPy: QMP_PY }),
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mem-path .*no-hugepages does not exist \(mount -t hugetlbfs/);
    assert.equal(existsSync(join(dir, "run", "vm1-overlay.qcow2")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A QMP server with two virtio-net devices: nic1 vhost-started, nic2 not. Records the commands. */
function fakeQmp(path: string, calls: { execute: string; arguments?: Record<string, unknown> }[]) {
  const reply = (req: { execute: string; arguments?: Record<string, unknown> }): unknown => {
    const a = req.arguments ?? {};
    const nic = typeof a.path === "string" && a.path.includes("nic1") ? "nic1" : "nic2";
    switch (req.execute) {
      case "qmp_capabilities":
        return {};
      case "x-query-virtio":
        return [
          { name: "virtio-blk", path: "/machine/peripheral-anon/device[0]/virtio-backend" },
          { name: "virtio-net", path: "/machine/peripheral/nic1/virtio-backend" },
          { name: "virtio-net", path: "/machine/peripheral/nic2/virtio-backend" },
        ];
      case "x-query-virtio-status":
        return { name: "virtio-net", "num-vqs": 3, "vhost-started": nic === "nic1" };
      case "x-query-virtio-vhost-queue-status":
        if (nic !== "nic1")
          return { error: { class: "GenericError", desc: "vhost device has not started yet" } };
        return { name: "virtio-net", num: 1024 };
      case "x-query-virtio-queue-status":
        return { name: "virtio-net", "vring-num": 256, "vring-num-default": 1024, "queue-index": a.queue };
      case "qom-get":
        return 1024;
      default:
        return { error: { class: "CommandNotFound", desc: `The command ${req.execute} has not been found` } };
    }
  };
  const server = createServer((sock: Socket) => {
    sock.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`);
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const req = JSON.parse(line) as { execute: string; arguments?: Record<string, unknown> };
        calls.push(req);
        const r = reply(req) as { error?: unknown };
        // an event first, which the client must skip
        sock.write(`${JSON.stringify({ event: "NIC_RX_FILTER_CHANGED", data: {} })}\n`);
        sock.write(`${JSON.stringify(r && typeof r === "object" && "error" in r ? r : { return: r })}\n`);
      }
    });
  });
  return new Promise<typeof server>((resolve) => server.listen(path, () => resolve(server)));
}

function runPy(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn("python3", [QMP_PY, ...args]);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test(
  "qmp.py vrings never sends x-query-virtio-queue-status to a started vhost-user device",
  { skip: !has("python3") && "python3 missing" },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "qmp-"));
    const sock = join(dir, "qmp.sock");
    const calls: { execute: string; arguments?: Record<string, unknown> }[] = [];
    const server = await fakeQmp(sock, calls);
    try {
      const r = await runPy(["--timeout", "5", sock, "vrings"]);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(out).sort(), ["nic1", "nic2"]);
      assert.deepEqual(
        { rx: out.nic1!.rx, tx: out.nic1!.tx, source: out.nic1!.source, rxMax: out.nic1!.rxMax },
        { rx: 1024, tx: 1024, source: "vhost", rxMax: 1024 },
      );
      assert.deepEqual(
        { rx: out.nic2!.rx, tx: out.nic2!.tx, source: out.nic2!.source, pairs: out.nic2!.queuePairs },
        { rx: 256, tx: 256, source: "virtio", pairs: 1 },
      );
      const dangerous = calls.filter(
        (c) => c.execute === "x-query-virtio-queue-status" && String(c.arguments?.path).includes("nic1"),
      );
      assert.deepEqual(dangerous, [], "GET_VRING_BASE would stop the backend's vring");
      const err = await runPy(["--timeout", "5", sock, "cmd", "no-such-command"]);
      assert.equal(err.status, 1);
      assert.match(err.stderr, /CommandNotFound/);
      const none = await runPy(["--timeout", "2", join(dir, "absent.sock"), "vrings"]);
      assert.equal(none.status, 3);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "vm.sh stop deletes only a real overlay, never the base image",
  { skip: !(canRunVmSh && has("qemu-img")) && "needs root, bash, python3, qemu-img" },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "vm-sh-"));
    try {
      const env = vmEnv(dir);
      const base = join(dir, "base.qcow2");
      const overlay = env.VM_OVERLAY!;
      const img = (...a: string[]) => assert.equal(spawnSync("qemu-img", a).status, 0);
      img("create", "-q", "-f", "qcow2", base, "16M");
      spawnSync("mkdir", ["-p", join(dir, "run")]);
      img("create", "-q", "-f", "qcow2", overlay, "16M"); // no backing file: not ours
      let r = runVm("stop", env);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /has no backing file/);
      assert.ok(existsSync(overlay));
      rmSync(overlay);
      img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay);
      r = runVm("stop", env);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(overlay), false);
      r = runVm("stop", { ...env, VM_ARGV_B64: "", VM_OVERLAY: base });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /is the base image: not deleting it/);
      assert.ok(existsSync(base));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "pin-threads.sh pins the matching threads and refuses a CPU list taskset would take for an option",
  {
    skip: !(has("bash") && has("taskset")) && "needs bash, taskset",
  },
  () => {
    const PIN = scriptPath("pin-threads.sh");
    const victim = spawn("sleep", ["30"]);
    try {
      const env = {
        PATH,
        PIN_PID: String(victim.pid),
        PIN_PATTERN: "^sleep$",
      };
      const good = spawnSync("bash", [PIN, "x"], { env: { ...env, PIN_CPUS: "0" }, encoding: "utf8" });
      assert.equal(good.status, 0, good.stderr);
      assert.deepEqual(JSON.parse(good.stdout).pinned, [victim.pid]);
      const bad = spawnSync("bash", [PIN], { env: { ...env, PIN_CPUS: "-a" }, encoding: "utf8" });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /PIN_CPUS '-a' is not a CPU list/);
      const other = spawnSync("bash", [PIN], {
        env: { ...env, PIN_CPUS: "0", PIN_OTHER_CPUS: "0;1" },
        encoding: "utf8",
      });
      assert.match(other.stderr, /PIN_OTHER_CPUS '0;1' is not a CPU list/);
    } finally {
      victim.kill("SIGKILL");
    }
  },
);
