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
        "C before 0 7 100 8 50 0",
        "C after 0 7 100100 8 99050 3",
        "RC 0 0",
        "WALL 1031000",
        "T 0            1 sec, 6858 usec on CPU0 (100000 packets)",
      ].join("\n"),
    );
    assert.equal(out.before[0]?.tx.value, 100n);
    assert.equal(out.after[0]?.rx.value, 99050n);
    assert.equal(out.after[0]?.txDropped, 3n);
    assert.deepEqual(out.rc, [0]);
    assert.equal(out.wallUs, 1031000);
    assert.ok(Math.abs((out.trafgenS[0] ?? 0) - 1.006858) < 1e-9);
  });

  it("reads both directions of a bidirectional trial", () => {
    const out = parseTrialOutput(
      [
        "C before 0 7 100 8 50 0",
        "C before 1 8 200 7 60 0",
        "C after 0 7 1100 8 1040 0",
        "C after 1 8 1200 7 1060 1",
        "RC 0 0",
        "RC 1 124",
        "WALL 1031000",
        "T 1 1 sec, 10 usec on CPU0 (1000 packets)",
      ].join("\n"),
      2,
    );
    assert.equal(out.after[1]?.tx.value, 1200n);
    assert.equal(out.before[1]?.rx.ifindex, 7);
    assert.deepEqual(out.rc, [0, 124]);
    assert.deepEqual(out.trafgenS, [null, 1.00001]);
  });

  it("refuses incomplete output", () => {
    assert.throws(() => parseTrialOutput("C before 0 7 1 8 1 0\nRC 0 0\n"), /unexpected trial output/);
    const oneWay = "C before 0 7 1 8 1 0\nC after 0 7 2 8 2 0\nRC 0 0\nWALL 5\n";
    assert.doesNotThrow(() => parseTrialOutput(oneWay, 1));
    assert.throws(() => parseTrialOutput(oneWay, 2), /unexpected trial output/, "direction 1 is missing");
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
      return ok(`C before 0 7 0 8 0 0\nC after 0 7 1000 9 1000 0\nRC 0 0\nWALL 1000000\n`);
    });
    const gen = new TrafgenGenerator(exec, spec(), OPTS);
    await assert.rejects(gen.runTrial({ loadPps: 1000, durationS: 1, frame: 64 }), CounterAnomalyError);
    assert.equal(trials, 2);
  });

  it("accepts a deadline cut (the shortfall shows in the counts) but not a trafgen error", async () => {
    let rc = 124;
    const exec = new FakeExec((call) =>
      call.stdin.includes("trafgen")
        ? ok(
            `C before 0 7 0 8 0 0\nC after 0 7 400 8 400 0\nRC 0 ${rc}\nWALL 1170000\nT 0 trafgen: Invalid rate\n`,
          )
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
    assert.ok(s.lastIndexOf(`>>"$pidf"`) > s.indexOf("tps+=($!)"), "trafgen's pid is listed");
    assert.match(s, /stop\(\) \{[^\n]*kill -TERM "\$p"[^\n]*tc qdisc del dev t0 root/);
  });

  it("both directions at once: one trafgen per port with mirrored packets, counts per direction", async () => {
    const lab = new FakeLab();
    lab.lossAt = (pps) => (pps > 100000 ? 0.5 : 0);
    const gen = new TrafgenGenerator(lab.exec, { ...spec(), netns: "", directions: 2 }, OPTS);
    assert.equal(gen.directions, 2);
    const counts = await gen.runTrial({ loadPps: 200000, durationS: 1, frame: 64 });
    assert.deepEqual(counts, {
      offeredCount: 400000,
      receivedCount: 200000,
      perDirection: [
        { txPort: 0, rxPort: 1, offeredCount: 200000, receivedCount: 100000 },
        { txPort: 1, rxPort: 0, offeredCount: 200000, receivedCount: 100000 },
      ],
    });
    const trial = lab.exec.calls.find((c) => c.stdin.includes("timeout -s INT"));
    assert.equal(trial?.command, "bash -s", "the TG host's own session: no ip netns exec");
    const s = trial?.stdin ?? "";
    for (const part of ["-o t0 -b 200000pps", "-o t1 -b 200000pps", "udp-64B.cfg", "udp-64B-dir1.cfg"])
      assert.ok(s.includes(part), `missing ${part}`);
    for (const dev of ["t0", "t1"]) {
      assert.ok(s.includes(`tc qdisc replace dev ${dev} root tbf`), `${dev} is paced`);
      assert.ok(
        s.includes(`qdisc %s %s\\n' "\${nsn:--}" ${dev}`),
        `${dev}'s qdisc is listed with the session's netns`,
      );
    }
    assert.ok(s.indexOf("udp-64B-dir1.cfg -o t1") > s.indexOf("udp-64B.cfg -o t0"));
    assert.ok(
      s.indexOf("nsn=$(ip netns identify") < s.indexOf("qdisc %s %s"),
      "the session's netns is found first",
    );
    const cfg1 = lab.exec.calls.find((c) => c.command.includes("udp-64B-dir1.cfg"));
    assert.match(cfg1?.stdin ?? "", /20\.20\.20\.1-254 -> 10\.10\.10\.1/, "direction 1 sends the other way");
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
