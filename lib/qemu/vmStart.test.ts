/**
 * scripts/vm.sh start against a stand-in QEMU: a python program named qemu-system-x86_64 that
 * daemonizes like QEMU (fork, setsid, pidfile, the argv's unix chardev sockets) and plays the
 * guest agent and QMP as told by FAKE_QEMU (JSON). It lets every failure after the launch happen
 * on purpose (agent silent, NICs missing, guest testpmd failing, vring sizes short, SIGTERM) and
 * checks that start undoes itself: the process gone, overlay, sockets, pidfile, logs removed.
 * Needs root, bash, /usr/bin/python3 (the shebang keeps comm = qemu-system-x86) and qemu-img.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { has, isRoot, PATH, scriptPath, TempDirs } from "../../tests/support/host";
import { vmScriptEnv } from "./script";
import { localVm } from "./testSpec";
import type { VmSpec } from "./types";

const VM_SH = scriptPath("vm.sh");
const canRun =
  has("bash") && isRoot && existsSync("/usr/bin/python3") && has("qemu-img") && existsSync(VM_SH);
const skip = !canRun && "needs root, bash, /usr/bin/python3, qemu-img";

/** The stand-in QEMU (see the file comment). */
const FAKE_QEMU = String.raw`#!/usr/bin/python3
import base64, json, os, select, signal, socket, sys
cfg = json.loads(os.environ.get("FAKE_QEMU", "{}"))
argv = sys.argv[1:]
def values(opt):
    return [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == opt]
def props(s):
    out = {}
    for p in s.replace(",,", "\x01").split(",")[1:]:
        k, _, v = p.partition("=")
        out[k] = v.replace("\x01", ",")
    return out
if cfg.get("launchFail"):
    print("fake qemu: cannot start", file=sys.stderr)
    sys.exit(1)
pidfile = values("-pidfile")[0]
chardevs = {props(c)["id"]: props(c) for c in values("-chardev")}
nics = [props(d)["id"] for d in values("-device") if d.startswith("virtio-net-pci")]
# the queue size the argv asks for (the vring a real vhost-user device negotiates)
ring = int(next((props(d).get("rx_queue_size", 1024) for d in values("-device") if d.startswith("virtio-net-pci")), 1024))
r, w = os.pipe()
if os.fork() > 0:
    os.close(w)
    os.read(r, 1)
    sys.exit(0)
os.close(r)
os.setsid()
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))  # sockets stay behind, as after a kill
listeners = {}
for cid, o in chardevs.items():
    if not o.get("path"):
        continue
    if os.path.exists(o["path"]):
        os.unlink(o["path"])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(o["path"])
    s.listen(4)
    listeners[s] = cid
    if o.get("logfile"):
        with open(o["logfile"], "a") as f:
            f.write("fake console: booting\n")
with open(pidfile, "w") as f:
    f.write("%d\n" % os.getpid())
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
os.write(w, b"x")
os.close(w)
conns, bufs = {}, {}
state = {"testpmd": False, "execs": {}}
def send(c, obj, prefix=b""):
    c.sendall(prefix + json.dumps(obj).encode() + b"\n")
def qga(c, req):
    ex, a = req.get("execute"), req.get("arguments", {})
    if ex == "guest-sync-delimited":
        return send(c, {"return": a["id"]}, b"\xff")
    if ex == "guest-ping":
        return send(c, {"return": {}})
    if ex == "guest-network-get-interfaces":
        names = ["lo"] + cfg.get("nics", ["mgmt0", "virtio0", "virtio1"])
        return send(c, {"return": [{"name": n} for n in names]})
    if ex == "guest-exec":
        cmd, code, out, err = a["arg"][-1], 0, "", ""
        if "dpdk-testpmd" in cmd:
            if cfg.get("testpmd", "ok") == "ok":
                state["testpmd"], out = True, "testpmd pid 7: packet forwarding - ports=2\n"
            else:
                code, err = 1, "guest testpmd exited: EAL: no hugepages\n"
        elif "echo running" in cmd:
            out = "running\n" if state["testpmd"] else "off\n"
        pid = len(state["execs"]) + 100
        state["execs"][pid] = {"exited": True, "exitcode": code,
                               "out-data": base64.b64encode(out.encode()).decode(),
                               "err-data": base64.b64encode(err.encode()).decode()}
        return send(c, {"return": {"pid": pid}})
    if ex == "guest-exec-status":
        return send(c, {"return": state["execs"][a["pid"]]})
    send(c, {"error": {"class": "CommandNotFound", "desc": ex}})
def qmp(c, req):
    ex, a = req.get("execute"), req.get("arguments", {})
    if ex == "quit":
        send(c, {"return": {}})
        os._exit(0)
    if ex == "x-query-virtio":
        r = [{"name": "virtio-net", "path": "/machine/peripheral/%s/virtio-backend" % n} for n in nics]
    elif ex == "x-query-virtio-status":
        r = {"name": "virtio-net", "num-vqs": 2, "vhost-started": cfg.get("vhostStarted", True)}
    elif ex == "x-query-virtio-vhost-queue-status":
        r = {"num": cfg.get("vring", ring)}
    elif ex == "x-query-virtio-queue-status":
        r = {"vring-num": cfg.get("vring", ring)}
    elif ex == "qom-get":
        r = ring
    elif ex == "qmp_capabilities":
        r = {}
    else:
        return send(c, {"error": {"class": "CommandNotFound", "desc": ex}})
    send(c, {"return": r})
while True:
    rl, _, _ = select.select(list(listeners) + list(conns), [], [])
    for s in rl:
        if s in listeners:
            c, _ = s.accept()
            conns[c] = listeners[s]
            bufs[c] = b""
            if conns[c] == "qmp":
                send(c, {"QMP": {"version": {}, "capabilities": []}})
            continue
        data = s.recv(65536)
        if not data:
            del conns[s]
            s.close()
            continue
        bufs[s] += data
        while b"\n" in bufs[s]:
            line, bufs[s] = bufs[s].split(b"\n", 1)
            line = line.split(b"\xff")[-1].strip()
            if not line:
                continue
            req = json.loads(line)
            if conns[s] == "qga" and cfg.get("agent", "ok") == "ok":
                qga(s, req)
            elif conns[s] == "qmp":
                qmp(s, req)
`;

interface Lab {
  dir: string;
  run: string;
  env: Record<string, string>;
  /** VM_RING_ARGVS for vring sizes 1024 and 256 */
  ringArgvs: string;
}

const tmp = new TempDirs();

/** A temp dir with the fake QEMU, a base image and the VM's environment (paths all inside it). */
function lab(fake: Record<string, unknown>, over: Record<string, string> = {}): Lab {
  const dir = tmp.make("vpl-h5-vm-");
  const bin = join(dir, "bin", "qemu-system-x86_64");
  mkdirSync(dirname(bin));
  writeFileSync(bin, FAKE_QEMU);
  chmodSync(bin, 0o755);
  mkdirSync(join(dir, "mem"));
  assert.equal(
    spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", join(dir, "base.qcow2"), "16M"]).status,
    0,
  );
  const run = join(dir, "run");
  const spec = localVm({
    qemuBinary: bin,
    hugepagesPath: join(dir, "mem"),
    runDir: run,
    diskImage: join(run, "vm1-overlay.qcow2"),
    vhostUser: [{ socketPath: join(dir, "vhu-1.sock") }, { socketPath: join(dir, "vhu-2.sock") }],
  });
  const opts = {
    baseImage: join(dir, "base.qcow2"),
    qgaPy: scriptPath("guest-image", "qga.py"),
    qmpPy: scriptPath("qmp.py"),
    bootTimeoutS: 20,
  };
  const withRing = (size: number): VmSpec => ({
    ...spec,
    vhostUser: spec.vhostUser.map((n) => ({ ...n, queueSize: size })),
  });
  const env = {
    ...vmScriptEnv(spec, opts),
    VM_NIC_TIMEOUT: "2",
    VM_VRING_TIMEOUT: "0",
    FAKE_QEMU: JSON.stringify(fake),
    ...over,
  };
  // the argv of every vring size (the ring switch test adds them)
  const ringArgvs = [1024, 256].map((n) => `${n}:${vmScriptEnv(withRing(n), opts)["VM_ARGV_B64"]}`).join(" ");
  return { dir, run, env, ringArgvs };
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}
function vm(cmd: string, env: Record<string, string>): Result {
  const r = spawnSync("bash", [VM_SH, cmd], {
    env: { PATH, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** pids of processes whose command line mentions `needle` (the lab's temp dir). */
function procsWith(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes(needle) && !cmd.includes("vm.sh")) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

afterEach(() => {
  // never leave a stand-in QEMU behind, whatever the test did
  tmp.removeAll((d) => {
    for (const p of procsWith(d)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
  });
});

/** start failed after launching QEMU and undid it: no process, no file of the VM left. */
function assertUndone(l: Lab, r: Result, reason: RegExp): void {
  assert.notEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, reason);
  assert.match(r.stderr, /launching .*qemu-system-x86_64/, "QEMU was launched");
  assert.match(r.stderr, /start undone/);
  assert.deepEqual(procsWith(l.dir), [], "the stand-in QEMU still runs");
  for (const f of [
    l.env.VM_OVERLAY!,
    l.env.VM_PIDFILE!,
    l.env.VM_QGA_SOCKET!,
    l.env.VM_QMP_SOCKET!,
    l.env.VM_CONSOLE_LOG!,
    join(l.run, "vm1-qemu.log"),
    join(l.run, "vm1-console.sock"),
    join(l.dir, "vhu-1.sock"),
    join(l.dir, "vhu-2.sock"),
  ])
    assert.equal(existsSync(f), false, `${f} left behind`);
  assert.equal(existsSync(l.run), false, "run dir left behind");
  assert.ok(existsSync(join(l.dir, "base.qcow2")), "the base image is never touched");
}

test("vm.sh start: the guest agent never answers -> QEMU stopped, files removed, exit 1", { skip }, () => {
  const l = lab({ agent: "silent" }, { VM_BOOT_TIMEOUT: "3" });
  const r = vm("start", l.env);
  assert.equal(r.status, 1);
  assertUndone(l, r, /the guest agent did not answer within 3s/);
  assert.match(r.stderr, /fake console: booting/, "the console log's tail is shown before it goes");
  assert.equal(r.stdout, "");
});

test("vm.sh start: a guest NIC is missing -> start undone", { skip }, () => {
  const l = lab({ nics: ["mgmt0", "virtio0"] });
  const r = vm("start", l.env);
  assert.equal(r.status, 1);
  assertUndone(l, r, /guest NICs virtio1 missing/);
});

test("vm.sh start: testpmd fails in the guest -> start undone", { skip }, () => {
  const l = lab({ testpmd: "fail" }, { VM_GUEST_TESTPMD: "io" });
  const r = vm("start", l.env);
  assert.equal(r.status, 1);
  assertUndone(l, r, /starting testpmd in the guest failed/);
  assert.match(r.stderr, /EAL: no hugepages/);
});

test(
  "vm.sh start: vring sizes below the configured ones -> start undone (strict with guest testpmd)",
  { skip },
  () => {
    const l = lab({ vring: 256 }, { VM_GUEST_TESTPMD: "io" });
    const r = vm("start", l.env);
    assert.equal(r.status, 1);
    assertUndone(l, r, /vring check failed: nic1: rx 256 tx 256, configured 1024\/1024;nic2: rx 256/);
    // warn only: the same VM starts and reports the sizes
    const w = lab({ vring: 256 }, { VM_GUEST_TESTPMD: "io", VM_VRING_CHECK: "warn" });
    const ok = vm("start", w.env);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).vringSizes.nic1.rx, 256);
    assert.match(ok.stderr, /SMALLER THAN CONFIGURED/);
    assert.equal(vm("stop", w.env).status, 0);
  },
);

test("vm.sh start: QEMU fails to launch -> nothing of the start is left", { skip }, () => {
  const l = lab({ launchFail: true });
  const r = vm("start", l.env);
  assert.equal(r.status, 1);
  assertUndone(l, r, /QEMU failed to start/);
  assert.match(r.stderr, /fake qemu: cannot start/, "the launch log's tail is shown");
});

test(
  "vm.sh start: SIGTERM while waiting for the agent -> undone within the 3 s the provider gives",
  { skip },
  async () => {
    const l = lab({ agent: "silent" }, { VM_BOOT_TIMEOUT: "60" });
    const child = spawn("bash", [VM_SH, "start"], {
      env: { PATH, ...l.env },
      detached: true, // its own process group, which gets the signal (as the provider does)
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const t0 = Date.now();
    while (!/waiting for the guest agent/.test(stderr)) {
      assert.ok(Date.now() - t0 < 30_000, `start never got to the agent wait: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(existsSync(l.env.VM_PIDFILE!), "QEMU runs");
    const tSig = Date.now();
    process.kill(-child.pid!, "SIGTERM");
    const code = await closed;
    assert.ok(Date.now() - tSig < 3000, `undo took ${Date.now() - tSig} ms: ${stderr}`);
    assert.equal(code, 143);
    assertUndone(l, { status: code, stdout: "", stderr }, /interrupted by SIGTERM/);
  },
);

test("vm.sh start on the leftovers of a killed VM starts fresh; status 0/3; overlay 0600", { skip }, () => {
  const l = lab({});
  mkdirSync(l.run);
  // a stale pidfile naming a live process that is not this VM's QEMU (our own pid), stale
  // socket files, a stale overlay and a stale console log
  writeFileSync(l.env.VM_PIDFILE!, `${process.pid}\n`);
  for (const s of [l.env.VM_QGA_SOCKET!, l.env.VM_QMP_SOCKET!, join(l.dir, "vhu-1.sock")]) {
    const py = `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(s)})`;
    assert.equal(spawnSync("python3", ["-c", py]).status, 0);
  }
  const img = ["create", "-q", "-f", "qcow2", "-b", join(l.dir, "base.qcow2"), "-F", "qcow2"];
  assert.equal(spawnSync("qemu-img", [...img, l.env.VM_OVERLAY!]).status, 0);
  writeFileSync(l.env.VM_CONSOLE_LOG!, "old boot\n");

  // stderr to a file, so that we can tell whether QEMU holds it
  const errFile = join(l.dir, "start.err");
  const sp = spawnSync("bash", ["-c", 'bash "$0" start 2>"$1"', VM_SH, errFile], {
    env: { PATH, ...l.env },
    encoding: "utf8",
    timeout: 120_000,
  });
  const r = { status: sp.status, stdout: sp.stdout, stderr: readFileSync(errFile, "utf8") };
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /removed leftovers of an earlier instance: vm1\.pid vhu-1\.sock vm1-qga\.sock vm1-qmp\.sock vm1-console\.log/,
  );
  assert.match(r.stderr, /removing the stale overlay/);
  const out = JSON.parse(r.stdout) as { state: string; pid: number; alreadyRunning: boolean };
  assert.equal(out.state, "running");
  assert.equal(out.alreadyRunning, false);
  assert.equal(statSync(l.env.VM_OVERLAY!).mode & 0o777, 0o600, "the overlay holds the guest's disk: 0600");
  // the daemon holds no descriptor of the script's stderr (the step's stream to the engine):
  // else the step would not end while the VM runs
  const held = readdirSync(`/proc/${out.pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${out.pid}/fd/${fd}`);
    } catch {
      return "";
    }
  });
  assert.ok(!held.includes(errFile), `QEMU holds the script's stderr: ${held.join(" ")}`);
  assert.doesNotMatch(readFileSync(l.env.VM_CONSOLE_LOG!, "utf8"), /old boot/);

  const s = vm("status", l.env);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).pid, out.pid);

  // a failing start on top of a running VM leaves that VM alone
  const again = vm("start", { ...l.env, VM_GUEST_NICS: "mgmt0 virtio0 virtio7" });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already running/);
  assert.doesNotMatch(again.stderr, /start undone/);
  assert.equal(vm("status", l.env).status, 0, "still running");

  // killed behind the script's back: status says gone (3), start brings it back
  process.kill(out.pid, "SIGKILL");
  spawnSync("sleep", ["0.3"]);
  const gone = vm("status", l.env);
  assert.equal(gone.status, 3);
  assert.equal(JSON.parse(gone.stdout).state, "stopped");
  const back = vm("start", l.env);
  assert.equal(back.status, 0, back.stderr);
  assert.match(back.stderr, /removed leftovers of an earlier instance: vm1\.pid/);

  const stop = vm("stop", l.env);
  assert.equal(stop.status, 0, stop.stderr);
  assert.equal(vm("status", l.env).status, 3);
  assert.deepEqual(procsWith(l.dir), []);
  assert.equal(existsSync(l.run), false);
});

test(
  "vm-ring.sh: the kit switches the VM to another vring size and back; the probe sees a switch left behind; stop removes the kit",
  { skip },
  () => {
    const state = join(tmp.make("vpl-h5-state-"), "steps");
    mkdirSync(state);
    const l = lab(
      {},
      {
        VM_RING_SIZE: "1024",
        VM_RING_SH: scriptPath("vm-ring.sh"),
        VM_PIN_SH: scriptPath("pin-threads.sh"),
        LAB_STATE_DIR: dirname(state),
        LAB_STEP_NAME: "local-vm1-qemu",
      },
    );
    l.env.VM_RING_ARGVS = l.ringArgvs;
    const start = vm("start", l.env);
    assert.equal(start.status, 0, start.stderr);
    const first = JSON.parse(start.stdout) as { pid: number; ring: number };
    assert.equal(first.ring, 1024);
    // the VM step's record as scripts/lib/step.sh writes it
    const rec = join(state, "local-vm1-qemu");
    writeFileSync(rec, `boot=b\npid=${first.pid}\nstart=1\n`);
    const kit = join(l.run, "ctl");
    for (const f of ["vm.sh", "vm-ring.sh", "qmp.py", "qga.py", "pin-threads.sh", "env"])
      assert.ok(existsSync(join(kit, f)), `kit lacks ${f}`);
    assert.equal(statSync(kit).mode & 0o777, 0o700, "the kit is root's only");
    assert.equal(vm("probe", l.env).status, 0);

    const ring = (args: string[]): Result => {
      const r = spawnSync("bash", [join(kit, "vm-ring.sh"), ...args], {
        env: { PATH, FAKE_QEMU: l.env.FAKE_QEMU! },
        encoding: "utf8",
        timeout: 120_000,
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const rx = (out: string): number[] =>
      Object.values((JSON.parse(out) as { vringSizes: Record<string, { rx: number }> }).vringSizes).map(
        (d) => d.rx,
      );
    assert.deepEqual(rx(ring(["show"]).stdout), [1024, 1024]);

    const to256 = ring(["set", "256"]);
    assert.equal(to256.status, 0, to256.stderr);
    const second = JSON.parse(to256.stdout) as { pid: number; ring: number };
    assert.equal(second.ring, 256);
    assert.notEqual(second.pid, first.pid, "a new QEMU: the queue size is fixed at device creation");
    assert.deepEqual(rx(ring(["show"]).stdout), [256, 256], "what the devices negotiated");
    assert.match(
      readFileSync(rec, "utf8"),
      new RegExp(`^pid=${second.pid}$`, "m"),
      "the step record follows",
    );
    // left at 256: the deployed VM step's probe reports it gone (the next up restarts it)
    const drift = vm("probe", l.env);
    assert.equal(drift.status, 3);
    assert.match(drift.stderr, /runs with vring size 256, deployed with 1024/);
    // a size outside the matrix is refused, the VM untouched
    const bad = ring(["set", "512"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /vring size 512 is not one of this VM's \(1024 256\)/);
    assert.deepEqual(rx(ring(["show"]).stdout), [256, 256]);

    const back = ring(["set", "1024"]);
    assert.equal(back.status, 0, back.stderr);
    assert.equal(vm("probe", l.env).status, 0);
    const same = ring(["set", "1024"]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stderr, /already runs with vring size 1024/);
    assert.equal(
      (JSON.parse(same.stdout) as { pid: number }).pid,
      (JSON.parse(back.stdout) as { pid: number }).pid,
    );

    const stop = vm("stop", l.env);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(existsSync(kit), false, "stop removes the kit");
    assert.equal(existsSync(l.run), false);
    assert.deepEqual(procsWith(l.dir), []);
  },
);
