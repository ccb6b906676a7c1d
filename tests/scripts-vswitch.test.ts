/**
 * scripts/vswitch-testpmd.sh with the real dpdk-testpmd (Debian dpdk-dev) on this machine:
 * --no-huge, af_packet on two veths made by scripts/tg-netns.sh, vhost-user client ports on
 * sockets nobody serves. Everything is named h5-<random> (DPDK file-prefix, netns, veths) and
 * lives in a temporary LAB_RUN_DIR. Hugepage leftovers are files in a hugetlbfs mount of its
 * own (no pages needed to create a file there). For the failure paths testpmd is launched
 * through a wrapper that stops itself (SIGSTOP) right before it execs the real testpmd, so the
 * script's wait for "forwarding" runs into its timeout, or a SIGTERM, deterministically.
 * An after-hook kills and removes whatever a test left.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { has, isRoot, PATH, scriptPath, TempDirs } from "./support/host";

const VSW = scriptPath("vswitch-testpmd.sh");
const TG = scriptPath("tg-netns.sh");
const skip = !(isRoot && has("dpdk-testpmd") && has("ip")) && "needs root, dpdk-testpmd (dpdk-dev), iproute2";

interface Lab {
  dir: string;
  prefix: string;
  huge: string;
  env: Record<string, string>;
  tgEnv: Record<string, string>;
}
const labs: Lab[] = [];
const tmp = new TempDirs();

/** pids whose command line carries the lab's DPDK file-prefix */
function prefixProcs(prefix: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").includes(`--file-prefix=${prefix}`))
        out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function lab(over: Record<string, string> = {}): Lab {
  const id = randomBytes(3).toString("hex");
  const dir = tmp.make("vpl-h5-vsw-");
  const prefix = `h5-${id}`;
  const huge = join(dir, "hugepages-2048kB");
  mkdirSync(huge);
  const mounted = spawnSync("mount", ["-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", huge]).status === 0;
  const tgEnv = {
    TG_NETNS: `h5-${id}`,
    TG_HOST_IFS: `h5${id}s0,h5${id}s1`,
    TG_NS_IFS: `h5${id}t0,h5${id}t1`,
  };
  const l: Lab = {
    dir,
    prefix,
    huge: mounted ? huge : "",
    tgEnv,
    env: {
      LAB_RUN_DIR: join(dir, "run"),
      VSWITCH_PREFIX: prefix,
      VSWITCH_HUGE: "0",
      VSWITCH_MEM_MB: "256",
      VSWITCH_MBUFS: "8192",
      VSWITCH_MAIN_CORE: "0",
      VSWITCH_WORKER_CORES: "1",
      VSWITCH_AF_IFACES: tgEnv.TG_HOST_IFS,
      VSWITCH_VHOST_SOCKETS: `${join(dir, "vhu0.sock")},${join(dir, "vhu1.sock")}`,
      VSWITCH_KEEP_LOG: "0",
      VSWITCH_START_TIMEOUT: "60",
      ...over,
    },
  };
  labs.push(l);
  const r = spawnSync("bash", [TG, "setup"], { env: { PATH, ...tgEnv }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return l;
}

afterEach(() => {
  for (const l of labs.splice(0)) {
    for (const p of prefixProcs(l.prefix)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    spawnSync("bash", [TG, "teardown"], { env: { PATH, ...l.tgEnv } });
    if (l.huge) spawnSync("umount", [l.huge]);
    rmSync(join("/var/run/dpdk", l.prefix), { recursive: true, force: true });
    spawnSync("rmdir", ["/var/run/dpdk"]);
  }
  tmp.removeAll();
});

function vsw(cmd: string, env: Record<string, string>) {
  const r = spawnSync("bash", [VSW, cmd], { env: { PATH, ...env }, encoding: "utf8", timeout: 120_000 });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  return {
    status: r.status,
    stderr: r.stderr,
    json: (last.startsWith("{") ? JSON.parse(last) : {}) as Record<string, unknown>,
  };
}

/** a testpmd that stops itself before it execs the real one (and leaves a "hugepage file") */
function pausingTestpmd(l: Lab): string {
  const w = join(l.dir, "h5-testpmd");
  writeFileSync(
    w,
    `#!/bin/sh\n[ -z "${l.huge}" ] || : > "${l.huge}/${l.prefix}map_0"\nkill -STOP $$\nexec dpdk-testpmd "$@"\n`,
  );
  chmodSync(w, 0o755);
  return w;
}
function assertUndone(l: Lab): void {
  assert.deepEqual(prefixProcs(l.prefix), [], "testpmd (or its launcher) still runs");
  assert.equal(existsSync(join("/var/run/dpdk", l.prefix)), false, "DPDK runtime dir left");
  assert.equal(existsSync(join(l.env.LAB_RUN_DIR!, l.prefix)), false, "run dir (pidfile, log) left");
  if (l.huge) assert.deepEqual(readdirSync(l.huge), [], "hugepage files left");
}

test(
  "vswitch-testpmd.sh: status 3/0, start, already running, killed -> status 3, restart cleans leftovers",
  { skip },
  () => {
    const l = lab();
    const s0 = vsw("status", l.env);
    assert.equal(s0.status, 3);
    assert.equal(s0.json.running, false);

    const up = vsw("start", l.env);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(up.json.running, true);
    assert.equal(up.json.alreadyRunning, false);
    const pid = up.json.pid as number;
    assert.equal((up.json.workerTids as number[]).length, 1);
    assert.equal(vsw("status", l.env).status, 0);
    assert.equal(vsw("start", l.env).json.alreadyRunning, true);

    // killed behind the script's back: leftovers (pidfile, runtime dir, a hugepage file)
    process.kill(pid, "SIGKILL");
    spawnSync("sleep", ["0.5"]);
    const gone = vsw("status", l.env);
    assert.equal(gone.status, 3);
    assert.ok(existsSync(join("/var/run/dpdk", l.prefix)), "DPDK left its runtime dir");
    if (l.huge) writeFileSync(join(l.huge, `${l.prefix}map_0`), "");
    const again = vsw("start", l.env);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /removed leftovers of an earlier run of prefix/);
    assert.equal(again.json.removedStaleHugepageFiles, l.huge ? 1 : 0);
    assert.notEqual(again.json.pid, pid);

    const down = vsw("stop", l.env);
    assert.equal(down.status, 0, down.stderr);
    assert.equal(down.json.stoppedBy, "sigint");
    assert.equal(vsw("status", l.env).status, 3);
    assertUndone(l);
  },
);

test(
  "vswitch-testpmd.sh start: testpmd launched but not forwarding in time -> stopped, files removed",
  { skip },
  () => {
    const l = lab();
    const r = vsw("start", { ...l.env, VSWITCH_TESTPMD: pausingTestpmd(l), VSWITCH_START_TIMEOUT: "3" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /testpmd did not start forwarding within 3s/);
    assert.match(r.stderr, /start undone/);
    if (l.huge) assert.match(r.stderr, /removed the pidfile, 1 hugepage file\(s\)/);
    assertUndone(l);
  },
);

test(
  "vswitch-testpmd.sh start: SIGTERM after the launch -> stopped, files removed, exit 143 within 3 s",
  { skip },
  async () => {
    const l = lab();
    const child = spawn("bash", [VSW, "start"], {
      env: { PATH, ...l.env, VSWITCH_TESTPMD: pausingTestpmd(l) },
      detached: true,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    const pidfile = join(l.env.LAB_RUN_DIR!, l.prefix, "testpmd.pid");
    const t0 = Date.now();
    const stopped = (): boolean => {
      try {
        const pid = readFileSync(pidfile, "utf8").trim();
        return / T /.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^\d+ \(.*\)/, ""));
      } catch {
        return false;
      }
    };
    while (!stopped()) {
      assert.ok(Date.now() - t0 < 30_000, `testpmd never launched: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const tSig = Date.now();
    process.kill(-child.pid!, "SIGTERM");
    assert.equal(await closed, 143, stderr);
    assert.ok(Date.now() - tSig < 3000, `undo took ${Date.now() - tSig} ms`);
    assert.match(stderr, /interrupted by SIGTERM \(start undone\)/);
    assertUndone(l);
  },
);

test(
  "vswitch-testpmd.sh: a chain of 2 VMs (4 sockets) and 4 VMs (8 sockets): vdevs af0, vhost0..n, af1, paired",
  { skip },
  () => {
    for (const vms of [2, 4]) {
      const l = lab();
      const socks = Array.from({ length: 2 * vms }, (_, i) =>
        join(l.dir, `vm${(i >> 1) + 1}-vhu${i % 2}.sock`),
      );
      const env = { ...l.env, VSWITCH_VHOST_SOCKETS: socks.join(","), VSWITCH_KEEP_LOG: "1" };
      const up = vsw("start", env);
      assert.equal(up.status, 0, up.stderr);
      const ports = 2 + 2 * vms;
      // paired: (0,1) af0 <-> vm1 nic0, (2,3) vm1 nic1 <-> vm2 nic0, ..., (ports-2, ports-1) vmN nic1 <-> af1
      assert.deepEqual(
        up.json.pairs,
        Array.from({ length: ports / 2 }, (_, k) => [2 * k, 2 * k + 1]),
      );
      assert.deepEqual(up.json.vhostSockets, socks);
      // testpmd's own view: the ports in declaration order and the forwarding it set up
      const log = readFileSync(join(l.env.LAB_RUN_DIR!, l.prefix, "testpmd.log"), "utf8");
      assert.match(log, new RegExp(`packet forwarding - ports=${ports}\\b`));
      // the launched command line as the script records it (printf %q: commas escaped)
      const cmdline = readFileSync(join(l.env.LAB_RUN_DIR!, l.prefix, "cmdline"), "utf8").replace(
        /\\,/g,
        ",",
      );
      const vdevs = [...cmdline.matchAll(/--vdev (net_[a-z_]+\d+),iface=([^,]+)/g)].map((m) => [m[1], m[2]]);
      assert.deepEqual(vdevs, [
        ["net_af_packet0", l.env.VSWITCH_AF_IFACES!.split(",")[0]],
        ...socks.map((s, i) => [`net_vhost${i}`, s]),
        ["net_af_packet1", l.env.VSWITCH_AF_IFACES!.split(",")[1]],
      ]);
      for (let p = 0; p < ports; p += 2) {
        assert.match(log, new RegExp(`RX P=${p}/Q=0 \\(socket \\d+\\) -> TX P=${p + 1}/Q=0`));
        assert.match(log, new RegExp(`RX P=${p + 1}/Q=0 \\(socket \\d+\\) -> TX P=${p}/Q=0`));
      }
      assert.equal(vsw("stop", env).status, 0);
    }
    // an odd socket count is no chain
    const l = lab();
    const bad = vsw("start", { ...l.env, VSWITCH_VHOST_SOCKETS: "/run/a.sock,/run/b.sock,/run/c.sock" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /two socket paths per VM \(2, 4, \.\.\. 64\), got 3/);
  },
);
