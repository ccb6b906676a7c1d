/**
 * scripts/vswitch-ovs.sh with the real OVS-DPDK (Debian openvswitch-switch-dpdk) on this machine:
 * 128 2M hugepages added to the pool for the test and a hugetlbfs mount of its own (OVS's EAL
 * refused --no-huge beside its own --in-memory here), af_packet vdev ports on a veth pair of its own
 * (ov<random>a/b), no VM (NIC 0 <-> NIC 1). Its run dir is a temporary directory; the after-hook
 * stops whatever a test left. Run it under the lab lock: the PMD thread busy-polls CPU 1.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { has, isRoot, PATH, scriptPath, TempDirs } from "./support/host";

const OVS = scriptPath("vswitch-ovs.sh");
const REAL = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";
const skip =
  !(isRoot && existsSync(REAL) && has("ovsdb-server") && has("ip")) &&
  "needs root, openvswitch-switch-dpdk, iproute2";
const tmp = new TempDirs();
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
  tmp.removeAll();
});

function run(
  env: Record<string, string>,
  verb: string,
): { code: number; json: Record<string, unknown>; err: string } {
  const r = spawnSync("bash", [OVS, verb], { env: { PATH, ...env }, encoding: "utf8", timeout: 120_000 });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    // no JSON line (a refusal)
  }
  return { code: r.status ?? -1, json, err: r.stderr };
}

/** ovs-vswitchd / ovsdb-server processes started on a run dir (zombies left out). */
function daemonsOn(runDir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"))) continue;
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`${runDir}/`)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function setup(): { env: Record<string, string> & { VSWITCH_BRIDGE: string }; runDir: string } {
  const id = randomBytes(3).toString("hex");
  const dir = tmp.make("vpl-ovs-");
  const [a, b] = [`ov${id}a`, `ov${id}b`];
  assert.equal(spawnSync("ip", ["link", "add", a, "type", "veth", "peer", "name", b]).status, 0);
  cleanups.push(() => void spawnSync("ip", ["link", "del", a]));
  for (const i of [a, b]) spawnSync("ip", ["link", "set", i, "up"]);
  // hugepages: the pool raised by what the test needs, put back after it; a mount of its own
  const pool = "/proc/sys/vm/nr_hugepages";
  const before = Number(readFileSync(pool, "utf8").trim());
  writeFileSync(pool, String(before + 128));
  cleanups.push(() => writeFileSync(pool, String(before)));
  const huge = join(dir, "huge");
  mkdirSync(huge);
  assert.equal(spawnSync("mount", ["-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", huge]).status, 0);
  cleanups.push(() => void spawnSync("umount", [huge]));
  const runDir = join(dir, `vpl-ovs-${id}`);
  const env = {
    LAB_RUN_DIR: dir,
    VSWITCH_PREFIX: `vpl-ovs-${id}`,
    VSWITCH_RUN_DIR: runDir,
    VSWITCH_BRIDGE: `ovbr${id}`,
    VSWITCH_NIC_PORTS: `af_packet:${a},af_packet:${b}`,
    VSWITCH_HUGE_DIR: huge,
    VSWITCH_MEM_MB: "256",
    VSWITCH_MAIN_CORE: "0",
    VSWITCH_WORKER_CORES: "1",
  };
  cleanups.push(() => void run(env, "stop"));
  return { env, runDir };
}

test("refusals name the bad input and change nothing", () => {
  const base = {
    LAB_RUN_DIR: "/nonexistent-vpl",
    VSWITCH_NIC_PORTS: "af_packet:ovx0,af_packet:ovx1",
  };
  const cases: [Record<string, string>, RegExp][] = [
    [{ VSWITCH_BRIDGE: "br;rm -rf" }, /bad VSWITCH_BRIDGE/],
    [{ VSWITCH_BRIDGE: "abcdefghijklmnop" }, /bad VSWITCH_BRIDGE/],
    [{ VSWITCH_NIC_PORTS: "eth0" }, /bad NIC port 'eth0'/],
    [{ VSWITCH_NIC_PORTS: "pci:0000:00:1f.9" }, /bad NIC port/],
    [{ VSWITCH_VHOST_SOCKETS: "/run/a.sock" }, /two sockets per VM .* got 1/],
    [{ VSWITCH_VHOST_SOCKETS: "/run/a.sock,/run/b.sock,/run/c.sock" }, /two sockets per VM .* got 3/],
    [
      {
        VSWITCH_NIC_PORTS: "af_packet:ovx0,af_packet:ovx1,af_packet:ovx2",
        VSWITCH_VHOST_SOCKETS: "/run/a.sock",
      },
      /one socket per NIC port \(3\)/,
    ],
    [{ VSWITCH_WORKER_CORES: "0" }, /worker core 0 is also the main core/],
    [{ VSWITCH_RUN_DIR: "/run/../etc" }, /bad VSWITCH_RUN_DIR/],
  ];
  for (const [over, message] of cases) {
    const r = run({ ...base, ...over }, "start");
    assert.equal(r.code, 1, `${JSON.stringify(over)}: exit ${r.code}`);
    assert.match(r.err, message);
  }
  assert.equal(existsSync("/nonexistent-vpl"), false);
});

test(
  "start, status, stop for real: PMD on the worker core, control path on the main core, flows, clean stop",
  { skip },
  () => {
    const { env, runDir } = setup();
    const up = run(env, "start");
    assert.equal(up.code, 0, up.err);
    assert.equal(up.json["running"], true);
    const pid = up.json["pid"] as number;
    // the data-plane thread: OVS names it pmd-c<core>/id:<n>, pinned to the worker core
    const pmds = up.json["pmdThreads"] as { tid: number; name: string; cpus: string }[];
    assert.equal(pmds.length, 1);
    assert.match(pmds[0]!.name, /^pmd-c0?1\/id:\d+$/);
    assert.equal(pmds[0]!.cpus, "1");
    assert.deepEqual(up.json["workerTids"], [pmds[0]!.tid]);
    // every other thread of both daemons stays on the main core
    for (const p of up.json["pids"] as number[]) {
      for (const t of readdirSync(`/proc/${p}/task`)) {
        if (Number(t) === pmds[0]!.tid) continue;
        const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(
          readFileSync(`/proc/${p}/task/${t}/status`, "utf8"),
        )?.[1];
        assert.equal(allowed, "0", `thread ${t} of ${p} may run on ${allowed}`);
      }
    }
    // its own db, sockets and pidfiles, never /var/run/openvswitch
    for (const f of ["conf.db", "db.sock", "ovs-vswitchd.pid", "ovsdb-server.pid", "ovs-vswitchd.ctl"])
      assert.ok(existsSync(join(runDir, f)), `${f} not in the run dir`);
    const ifaces = (up.json["interfaces"] as { data: unknown[][] }).data.map((r) => [r[0], r[1], r[2]]);
    assert.deepEqual(ifaces.filter((r) => r[1] === "dpdk").sort(), [
      ["nic0", "dpdk", 1],
      ["nic1", "dpdk", 3],
    ]);
    const flows = spawnSync("ovs-ofctl", ["dump-flows", env.VSWITCH_BRIDGE, "--no-stats"], {
      env: { PATH, OVS_RUNDIR: runDir },
      encoding: "utf8",
    });
    assert.deepEqual(
      flows.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith("in_port"))
        .sort(),
      ["in_port=1 actions=output:3", "in_port=3 actions=output:1"],
    );
    assert.equal(run(env, "status").code, 0);
    // a second start finds it running and changes nothing
    const again = run(env, "start");
    assert.equal(again.json["alreadyRunning"], true);
    assert.equal(again.json["pid"], pid);

    const down = run(env, "stop");
    assert.equal(down.code, 0, down.err);
    assert.equal(down.json["stoppedBy"], "exit");
    assert.deepEqual(daemonsOn(runDir), []);
    assert.equal(existsSync(runDir), false, "the run dir is removed");
    assert.equal(run(env, "status").code, 3);
  },
);

test("a start that fails half-way undoes itself: ovsdb-server stopped, run dir removed", { skip }, () => {
  const { env, runDir } = setup();
  // ovs-vswitchd that answers --version but refuses to start
  const fake = join(tmp.make("vpl-ovs-fake-"), "ovs-vswitchd-dpdk");
  writeFileSync(
    fake,
    `#!/bin/bash\n[ "$1" = --version ] && exec ${REAL} --version\nexec ${REAL} --no-such-option "$@"\n`,
  );
  chmodSync(fake, 0o755);
  const r = run({ ...env, VSWITCH_OVS_VSWITCHD: fake }, "start");
  assert.notEqual(r.code, 0);
  assert.match(r.err, /undo/);
  assert.deepEqual(daemonsOn(runDir), [], "ovsdb-server was left running");
  assert.equal(existsSync(runDir), false, "the run dir was left");
});

test(
  "a chain of 2 VMs (4 sockets, nobody serving them): vhost ports vhu0..3, flows nic0-vhu0, vhu1-vhu2, vhu3-nic1",
  { skip },
  () => {
    const { env, runDir } = setup();
    const socks = [1, 2].flatMap((vm) => [0, 1].map((n) => join(runDir, "..", `vm${vm}-vhu${n}.sock`)));
    const up = run({ ...env, VSWITCH_VHOST_SOCKETS: socks.join(",") }, "start");
    assert.equal(up.code, 0, up.err);
    const rows = (up.json["interfaces"] as { data: unknown[][] }).data.map((r) => [r[0], r[1], r[2]]);
    assert.deepEqual(rows.filter((r) => r[1] === "dpdk" || r[1] === "dpdkvhostuserclient").sort(), [
      ["nic0", "dpdk", 1],
      ["nic1", "dpdk", 3],
      ["vhu0", "dpdkvhostuserclient", 2],
      ["vhu1", "dpdkvhostuserclient", 4],
      ["vhu2", "dpdkvhostuserclient", 6],
      ["vhu3", "dpdkvhostuserclient", 8],
    ]);
    const flows = spawnSync("ovs-ofctl", ["dump-flows", env.VSWITCH_BRIDGE, "--no-stats"], {
      env: { PATH, OVS_RUNDIR: runDir },
      encoding: "utf8",
    });
    // port0 -> vm1 nic0 | vm1 nic1 -> vm2 nic0 | vm2 nic1 -> port1, and back
    const pair = (a: number, b: number): string[] => [
      `in_port=${a} actions=output:${b}`,
      `in_port=${b} actions=output:${a}`,
    ];
    assert.deepEqual(
      flows.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.startsWith("in_port"))
        .sort(),
      [...pair(1, 2), ...pair(4, 6), ...pair(8, 3)].sort(),
    );
    const down = run(env, "stop");
    assert.equal(down.code, 0, down.err);
    assert.deepEqual(daemonsOn(runDir), []);
  },
);
