import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CounterAnomalyError } from "./counters";
import { parsePlan, type TrafgenSpec } from "./plan";
import { findScript } from "./runner";
import { FakeExec, FakeLab, ok } from "./testSupport";
import {
  pacingQdisc,
  parseTrialOutput,
  TrafgenGenerator,
  trialDeadlineS,
  UnsupportedFrameError,
} from "./trafgenGenerator";

const RESTORE = findScript("sched-restore.sh") as string;
const OPTS = { runDir: "/run/vhost-perf-lab/s1", cleanupScript: RESTORE };

function spec(): TrafgenSpec {
  const plan = parsePlan({
    stack: "s1",
    hosts: { h: { transport: "local" } },
    dut: { host: "h", vswitch: { pid: 1 } },
    tg: { kind: "trafgen", host: "h", netns: "ns1", txIf: "t0", rxIf: "t1", settleS: 0.5 },
    cells: [{ frame: 64, policy: "cfs", tests: ["mrr"] }],
    mrr: { maxLoadPps: 1000 },
  });
  assert.equal(plan.tg.kind, "trafgen");
  return plan.tg as TrafgenSpec;
}

describe("trial output parsing", () => {
  it("reads counters, exit status, wall time and trafgen's own time", () => {
    const out = parseTrialOutput(
      [
        "C before 7 100 8 50 0",
        "C after 7 100100 8 99050 3",
        "RC 0",
        "WALL 1031000",
        "           1 sec, 6858 usec on CPU0 (100000 packets)",
      ].join("\n"),
    );
    assert.equal(out.before.tx.value, 100n);
    assert.equal(out.after.rx.value, 99050n);
    assert.equal(out.after.txDropped, 3n);
    assert.equal(out.rc, 0);
    assert.equal(out.wallUs, 1031000);
    assert.ok(Math.abs((out.trafgenS ?? 0) - 1.006858) < 1e-9);
  });

  it("refuses incomplete output", () => {
    assert.throws(() => parseTrialOutput("C before 7 1 8 1 0\nRC 0\n"), /unexpected trial output/);
  });

  it("gives trafgen a little slack, not a lot", () => {
    assert.ok(Math.abs(trialDeadlineS(1) - 1.17) < 1e-9);
    assert.ok(trialDeadlineS(10) < 10.5);
  });
});

describe("TrafgenGenerator", () => {
  it("runs one remote command per trial: trafgen in the netns, rate, count, one process, paced by a tbf", async () => {
    const lab = new FakeLab();
    lab.lossAt = (pps) => (pps > 100000 ? 0.25 : 0);
    const gen = new TrafgenGenerator(lab.exec, spec(), OPTS);
    const counts = await gen.runTrial({ loadPps: 200000, durationS: 1, frame: 64 });
    assert.deepEqual(counts, { offeredCount: 200000, receivedCount: 150000 });
    assert.equal(gen.directions, 1);
    const writes = lab.exec.calls.filter((c) => c.command.includes("cat >"));
    assert.equal(writes.length, 1, "config written once");
    assert.ok(writes[0]?.command.includes("/run/vhost-perf-lab/s1/trafgen/udp-64B.cfg"), "per-stack dir");
    const trial = lab.exec.calls.find((c) => c.stdin.includes("trafgen"));
    assert.ok(trial);
    assert.equal(trial.command, "ip netns exec ns1 bash -s");
    for (const part of ["-o t0", "-b 200000pps", "-n 200000", "-P1", "timeout -s INT 1.170", "sleep 0.5"]) {
      assert.ok(trial.stdin.includes(part), `missing ${part}`);
    }
    assert.ok(/ -q( |$)/m.test(trial.stdin), "-q (trafgen's qdisc path) is needed for the pacing qdisc");
    // 200 kpps of 60 B (64 B minus FCS) = 96 Mbit/s, set before trafgen and removed after
    const tcSet = trial.stdin.indexOf(
      "tc qdisc replace dev t0 root tbf rate 96000000bit burst 1600 limit 300000",
    );
    assert.ok(tcSet >= 0 && tcSet < trial.stdin.indexOf("timeout -s INT"), trial.stdin);
    assert.ok(trial.stdin.lastIndexOf("tc qdisc del dev t0 root") > trial.stdin.indexOf("timeout -s INT"));
    assert.ok(!trial.stdin.includes(" -J"));
    assert.ok(trial.stdin.includes("/sys/class/net/t1/statistics/rx_packets"));
    await gen.runTrial({ loadPps: 50000.4, durationS: 2, frame: 64 });
    assert.equal(lab.exec.calls.filter((c) => c.command.includes("cat >")).length, 1, "config reused");
    const second = lab.exec.calls.filter((c) => c.stdin.includes("trafgen")).at(-1);
    assert.ok(second?.stdin.includes("-b 50000pps -n 100001"));
    assert.equal(gen.lastTrial?.cutByDeadline, false);
  });

  it("refuses sub-second and fractional trials (trafgen's rate control is per second)", async () => {
    const gen = new TrafgenGenerator(new FakeLab().exec, spec(), OPTS);
    await assert.rejects(gen.runTrial({ loadPps: 1000, durationS: 0.5, frame: 64 }), /whole seconds/);
    await assert.rejects(gen.runTrial({ loadPps: 1000, durationS: 1.5, frame: 64 }), /whole seconds/);
  });

  it("retries once after a counter reset, then gives up", async () => {
    let trials = 0;
    const exec = new FakeExec((call) => {
      if (!call.stdin.includes("trafgen")) return ok();
      trials++;
      // ifindex of the rx interface changes: it was re-created under us
      return ok(`C before 7 0 8 0 0\nC after 7 1000 9 1000 0\nRC 0\nWALL 1000000\n`);
    });
    const gen = new TrafgenGenerator(exec, spec(), OPTS);
    await assert.rejects(gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 }), CounterAnomalyError);
    assert.equal(trials, 2);
  });

  it("accepts a deadline cut (the shortfall shows in the counts) but not a trafgen error", async () => {
    let rc = 124;
    const exec = new FakeExec((call) =>
      call.stdin.includes("trafgen")
        ? ok(`C before 7 0 8 0 0\nC after 7 400 8 400 0\nRC ${rc}\nWALL 1170000\ntrafgen: Invalid rate\n`)
        : ok(),
    );
    const gen = new TrafgenGenerator(exec, spec(), OPTS);
    assert.deepEqual(await gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 }), {
      offeredCount: 400,
      receivedCount: 400,
    });
    assert.equal(gen.lastTrial?.cutByDeadline, true);
    rc = 1;
    await assert.rejects(
      gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 }),
      /trafgen failed \(exit 1\).*Invalid rate/,
    );
  });

  it("reports frames the TG interfaces cannot carry", async () => {
    const lab = new FakeLab();
    const gen = new TrafgenGenerator(lab.exec, spec(), OPTS);
    await gen.checkFrame(1518);
    await assert.rejects(gen.checkFrame(9000), (e: unknown) => {
      assert.ok(e instanceof UnsupportedFrameError);
      assert.match(
        e.message,
        /unsupported frame size on this TG: 9000B: t0 has MTU 1500, the frame needs 8982/,
      );
      return true;
    });
    lab.mtu = 9000;
    await gen.checkFrame(9000);
    const trial = await gen.runTrial({ loadPps: 1000, durationS: 1, frame: 9000 });
    assert.equal(trial.offeredCount, 1000);
    assert.ok(lab.exec.calls.some((c) => c.stdin.includes("trafgen") && c.stdin.includes(" -J")));
  });

  it("lists the trial's processes and qdisc before it starts them, and cleans up after itself on TERM", async () => {
    const lab = new FakeLab();
    const gen = new TrafgenGenerator(lab.exec, spec(), OPTS);
    await gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 });
    const s = lab.exec.calls.find((c) => c.stdin.includes("trafgen"))?.stdin ?? "";
    const listed = s.indexOf(`>"$pidf"`);
    assert.ok(s.includes("d=/run/vhost-perf-lab/s1/trafgen"));
    assert.ok(s.includes("qdisc %s %s") && s.includes("ns1 t0"), "the qdisc is listed for sched-restore.sh");
    assert.ok(listed > 0 && listed < s.indexOf("tc qdisc replace"), "listed before the qdisc is set");
    assert.ok(s.indexOf("trap stop TERM INT HUP") < listed, "the trap is set before anything starts");
    assert.ok(s.indexOf(`>>"$pidf"`) > s.indexOf("tp=$!"), "trafgen's pid is listed");
    assert.match(s, /stop\(\) \{[^\n]*kill -TERM "\$tp"[^\n]*tc qdisc del dev t0 root/);
  });

  it("stop() ends a running trial and removes its files with sched-restore.sh; no trial after it", async () => {
    const lab = new FakeLab();
    lab.hangTrial = 1;
    const gen = new TrafgenGenerator(lab.exec, spec(), OPTS);
    const trial = gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 });
    await lab.trialHanging;
    const t = Date.now();
    await gen.stop();
    assert.ok(Date.now() - t < 1000, "the running trial was ended, not waited for");
    await assert.rejects(trial, /trafgen stopped/);
    const stop = lab.exec.calls.find((c) => c.command.endsWith("-- stop-trial"));
    assert.equal(stop?.command, "env LAB_RUN_DIR=/run/vhost-perf-lab/s1 bash -s -- stop-trial");
    assert.equal(stop?.stdin, RESTORE);
    await assert.rejects(gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 }), /trafgen stopped/);
    assert.equal(lab.trials, 1, "no trial after stop()");
  });
});

describe("pacingQdisc", () => {
  it("rate from the mean packet (without FCS), bucket of two of the largest packets", () => {
    assert.equal(
      pacingQdisc("gen0", 9001, { meanPacketBytes: 60, maxPacketBytes: 60 }),
      "tc qdisc replace dev gen0 root tbf rate 4320480bit burst 1600 limit 300000",
    );
    // IMIX: mean 353.83 B on the wire - 4 B FCS; largest 1514 B
    assert.equal(
      pacingQdisc("gen0", 1000, { meanPacketBytes: 349.83, maxPacketBytes: 1514 }),
      "tc qdisc replace dev gen0 root tbf rate 2798640bit burst 3028 limit 300000",
    );
    assert.match(
      pacingQdisc("g 0", 1, { meanPacketBytes: 60, maxPacketBytes: 8996 }),
      /dev 'g 0' .* burst 17992 /,
    );
  });
});
