/**
 * Real local run (root only, ~20 s): netns + veth pairs (tg-netns.sh), host testpmd forwarding
 * af_packet <-> af_packet (vswitch-testpmd.sh, VSWITCH_VHOST_SOCKETS=none, no hugepages), trafgen
 * trials through TrafgenGenerator, the runner with a cfs and a cfsrr1 cell, and SshExec against a
 * throw-away sshd on a loopback port. Everything gets unique names and is removed afterwards.
 * Skipped when not root, when a tool is missing, or with VPL_BENCH_ROOT_TESTS=0.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { has, isRoot } from "../../tests/support/host";
import { parsePlan, type TrafgenSpec } from "./plan";
import { LocalExec, SshExec, withEnv } from "./remote";
import { findScript, findTelemetryClient, runBench } from "./runner";
import { chrtPolicy, startTestSshd, type TestSshd } from "./testSupport";
import { TrafgenGenerator } from "./trafgenGenerator";

function scriptsDir(): string | null {
  const starts = [process.env.VPL_SCRIPTS_DIR ?? "", __dirname, process.cwd()].filter(Boolean);
  for (const start of starts) {
    let dir = resolve(start);
    for (let i = 0; i < 6; i++) {
      if (existsSync(join(dir, "vswitch-testpmd.sh"))) return dir;
      if (existsSync(join(dir, "scripts", "vswitch-testpmd.sh"))) return join(dir, "scripts");
      dir = dirname(dir);
    }
  }
  return null;
}

const scripts = scriptsDir();
const skip =
  process.env.VPL_BENCH_ROOT_TESTS === "0"
    ? "VPL_BENCH_ROOT_TESTS=0"
    : !isRoot
      ? "needs root"
      : !scripts
        ? "scripts/ not found (set VPL_SCRIPTS_DIR)"
        : ["ip", "trafgen", "dpdk-testpmd", "chrt", "setsid"].find((t) => !has(t))
          ? "a tool is missing (ip, trafgen, dpdk-testpmd, chrt, setsid)"
          : false;

const id = String(process.pid % 100000);
const work = `/tmp/vplt-${id}`;
const tgEnv = {
  TG_NETNS: `vplt-${id}`,
  TG_HOST_IFS: `vts${id}a,vts${id}b`,
  TG_NS_IFS: `vtg${id}a,vtg${id}b`,
  TG_MTU: "1500",
};
const swEnv = {
  VSWITCH_PREFIX: `vplt-${id}`,
  VSWITCH_MAIN_CORE: "0",
  VSWITCH_WORKER_CORES: "1",
  VSWITCH_AF_IFACES: tgEnv.TG_HOST_IFS,
  VSWITCH_VHOST_SOCKETS: "none",
  VSWITCH_HUGE: "0",
  VSWITCH_MEM_MB: "256",
  VSWITCH_MBUFS: "8192",
  VSWITCH_RUN_DIR: `${work}/vswitch`,
  VSWITCH_KEEP_LOG: "0",
  VSWITCH_START_TIMEOUT: "25",
};
const local = new LocalExec();

async function script(name: string, args: string, env: Record<string, string>): Promise<string> {
  const text = readFileSync(join(scripts as string, name), "utf8");
  const r = await local.run(withEnv(env, `bash -s -- ${args}`), { stdin: text, timeoutMs: 60000 });
  if (r.code !== 0) throw new Error(`${name} ${args} failed: ${r.stderr}`);
  return r.stdout;
}

describe("real local datapath (root)", { skip, timeout: 240000 }, () => {
  let vswitch: { pid: number; workers: { tid: number; name: string }[] } | undefined;
  let sshd: TestSshd | undefined;

  before(async () => {
    mkdirSync(work, { recursive: true });
    await script("tg-netns.sh", "setup", tgEnv);
    vswitch = JSON.parse(await script("vswitch-testpmd.sh", "start", swEnv));
  });

  after(async () => {
    sshd?.stop();
    const errors: string[] = [];
    for (const [name, env] of [
      ["vswitch-testpmd.sh", swEnv],
      ["tg-netns.sh", tgEnv],
    ] as const) {
      try {
        await script(name, name === "tg-netns.sh" ? "teardown" : "stop", env);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    rmSync(work, { recursive: true, force: true });
    assert.deepEqual(errors, []);
    assert.equal(
      spawnSync("ip", ["netns", "exec", tgEnv.TG_NETNS, "true"]).status !== 0,
      true,
      "netns removed",
    );
    assert.ok(!existsSync(`/var/run/dpdk/${swEnv.VSWITCH_PREFIX}`), "DPDK runtime dir removed");
  });

  const spec = (): TrafgenSpec => {
    const [tx, rx] = tgEnv.TG_NS_IFS.split(",");
    return {
      kind: "trafgen",
      host: "local",
      netns: tgEnv.TG_NETNS,
      txIf: tx as string,
      rxIf: rx as string,
      directions: 1,
      srcMac: "02:00:00:00:00:01",
      dstMac: "02:00:00:00:00:02",
      sources: 254,
      settleS: 0.3,
      trafgen: "trafgen",
    };
  };
  const genOpts = (runDir = `${work}/run`) => ({
    runDir,
    cleanupScript: findScript("sched-restore.sh") as string,
  });

  it("the vswitch runs with one rte-worker thread", () => {
    assert.ok(vswitch && vswitch.pid > 0);
    assert.equal(vswitch.workers.length, 1);
    assert.match(vswitch.workers[0]?.name ?? "", /^rte-worker-1$/);
  });

  it("a trafgen trial sends what it was asked and gets most of it back", async () => {
    const gen = new TrafgenGenerator(local, spec(), genOpts());
    const counts = await gen.runTrial({ loadPps: 20000, durationS: 1, frame: 64 });
    assert.equal(counts.offeredCount, 20000);
    assert.ok(counts.receivedCount > 10000 && counts.receivedCount <= 20000, JSON.stringify(counts));
    assert.ok((gen.lastTrial?.wallS ?? 9) < 1.5, `trafgen took ${gen.lastTrial?.wallS} s`);
    assert.ok((gen.lastTrial?.trafgenS ?? 0) > 0.9, "trafgen's own send time was parsed");
    await gen.stop();
    assert.ok(!existsSync(`${work}/run/trafgen`), "stop() removes the trafgen files");
  });

  it("the runner measures a cfs and a cfsrr1 cell and reverts the policy", async () => {
    const tg = spec();
    const stack = `vplt-${id}`;
    const runRootBefore = existsSync("/run/vhost-perf-lab");
    const plan = parsePlan({
      name: "integration",
      stack,
      hosts: { local: { transport: "local" } },
      dut: {
        host: "local",
        vswitch: { pidFile: `${swEnv.VSWITCH_RUN_DIR}/testpmd.pid` },
        vswitchTelemetryPrefix: swEnv.VSWITCH_PREFIX,
        housekeepingCpus: [0],
      },
      tg: { ...tg },
      cells: [
        { frame: 64, policy: "cfs", tests: ["mrr"] },
        { frame: 64, policy: "cfsrr1", tests: ["mrr"] },
      ],
      mrr: { trials: 2, trialDurationS: 1, maxLoadPps: 20000 },
    });
    const lines: string[] = [];
    const report = await runBench(plan, {
      hosts: { get: async () => local, closeAll: async () => undefined },
      log: (l) => lines.push(l),
      telemetryClient: findTelemetryClient(scripts as string),
      probe: { loadPps: 1000, durationS: 1 },
    });
    assert.equal(report.ok, true, `${JSON.stringify(report, null, 1)}\n${lines.join("\n")}`);
    const [cfs, rr] = report.cells;
    assert.equal(cfs?.mrr?.trials.length, 2);
    assert.ok((cfs?.mrr?.avgPps ?? 0) > 10000);
    assert.equal(rr?.sched?.rtThreads.length, 1);
    assert.equal(rr?.sched?.rtThreads[0]?.comm, "rte-worker-1");
    assert.equal(
      rr?.sched?.rtRuntimeUs.during,
      rr?.sched?.rtRuntimeUs.before,
      "one RR poller: no bound needed",
    );
    assert.ok(rr?.vswitchPorts && rr.vswitchPorts.length === 2, "telemetry counters per cell");
    const tid = rr?.sched?.rtThreads[0]?.tid as number;
    assert.match(chrtPolicy(tid), /SCHED_OTHER/);
    assert.ok(
      !existsSync(`/run/vhost-perf-lab/${stack}`),
      "the run dir it created is gone (record, trafgen files)",
    );
    assert.equal(existsSync("/run/vhost-perf-lab"), runRootBefore);
  });

  it(
    "SshExec talks to a pinned sshd and refuses a wrong pin",
    { skip: !existsSync("/usr/sbin/sshd") },
    async () => {
      const dir = `${work}/sshd`;
      sshd = await startTestSshd(dir, 20000 + (process.pid % 20000));
      // the pin without the key's comment
      const hostKey = sshd.hostKey.split(" ").slice(0, 2).join(" ");
      const conn = {
        transport: "ssh" as const,
        host: "127.0.0.1",
        port: sshd.port,
        user: "root",
        privateKeyPath: sshd.privateKeyPath,
        hostKey,
        readyTimeoutMs: 10000,
      };
      const ssh = await SshExec.connect(conn);
      try {
        const r = await ssh.run("bash -s -- a", { stdin: 'echo "$1 $(id -u)"' });
        assert.deepEqual([r.code, r.stdout], [0, "a 0\n"]);
        // a trafgen trial over SSH, same connection
        const gen = new TrafgenGenerator(ssh, spec(), genOpts(`${work}/run-ssh`));
        const counts = await gen.runTrial({ loadPps: 5000, durationS: 1, frame: 64 });
        assert.equal(counts.offeredCount, 5000);
        await gen.stop();
        // a command cut at its timeout (SshExec closes the channel) does not live on behind the
        // SSH server, children included: nothing carrying its marker is left
        const marker = `vpl-timeout-${process.pid}`;
        const cut = await ssh.run(`(exec -a ${marker} sleep 30) & wait`, { timeoutMs: 500 });
        assert.equal(cut.timedOut, true);
        await new Promise((r) => setTimeout(r, 500));
        const left = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
          .split("\n")
          .filter((line) => line.includes(marker) && !line.includes("ps -eo"));
        assert.deepEqual(left, []);
      } finally {
        await ssh.close();
      }
      const wrongKey = readFileSync(`${dir}/client.pub`, "utf8").split(" ").slice(0, 2).join(" ");
      await assert.rejects(SshExec.connect({ ...conn, hostKey: wrongKey }), /host key mismatch/);
    },
  );
});
