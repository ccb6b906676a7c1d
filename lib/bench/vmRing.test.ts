import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CellSpec } from "./plan";
import { FakeExec, ok } from "./testSupport";
import { orderByVring, VmRingController, vringProblems } from "./vmRing";

const cell = (vringSize: number, policy: "cfs" | "cfsrr1" = "cfs", frame: 64 | 1518 = 64): CellSpec => ({
  frame,
  vringSize,
  policy,
  tests: ["mrr"],
});

const CONTROLS = ["/run/vhost-perf-lab/t/vm1/ctl/vm-ring.sh", "/run/vhost-perf-lab/t/vm2/ctl/vm-ring.sh"];

/** A DUT whose VMs run `size`; `set` switches it (unless refused), `show` reports it. */
function fakeDut(start: number, opts: { negotiate?: (asked: number) => number; refuse?: number } = {}) {
  let size = start;
  const dut = new FakeExec(({ command }) => {
    const m = /^bash '([^']+)' (set (\d+)|show)$/.exec(command);
    if (!m) return { code: 2, stderr: `unexpected ${command}` };
    if (m[3] !== undefined) {
      if (Number(m[3]) === opts.refuse) return { code: 1, stderr: "[vm-ring] ERROR: did not start" };
      size = Number(m[3]);
      return ok(`{"action":"start","ring":${size}}\n`);
    }
    const n = opts.negotiate ? opts.negotiate(size) : size;
    return ok(
      `${JSON.stringify({ vringSizes: { net0: { rx: n, tx: n, rxMax: size, txMax: size, vhostStarted: true }, net1: { rx: n, tx: n, rxMax: size, txMax: size, vhostStarted: true } } })}\n`,
    );
  });
  return { dut, size: () => size };
}

describe("orderByVring", () => {
  it("groups the cells by vring size, the deployed size first, keeping the plan's order within a group", () => {
    const cells = [cell(256), cell(1024), cell(256, "cfsrr1"), cell(1024, "cfsrr1", 1518), cell(512)];
    const got = orderByVring(cells, 1024);
    assert.deepEqual(
      got.map((c) => `${c.vringSize}/${c.policy}/${String(c.frame)}`),
      ["1024/cfs/64", "1024/cfsrr1/1518", "256/cfs/64", "256/cfsrr1/64", "512/cfs/64"],
    );
  });

  it("is a permutation with one run per size (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(128, 256, 512, 1024), { minLength: 1, maxLength: 12 }),
        (sizes) => {
          const cells = sizes.map((s, i) => cell(s, i % 2 === 0 ? "cfs" : "cfsrr1"));
          const deployed = sizes[0]!;
          const got = orderByVring(cells, deployed);
          assert.equal(got.length, cells.length);
          for (const c of cells) assert.ok(got.includes(c));
          // each size appears as one contiguous run: restarts = distinct sizes - 1
          const switches = got.filter((c, i) => i > 0 && got[i - 1]!.vringSize !== c.vringSize).length;
          assert.equal(switches, new Set(sizes).size - 1);
          assert.equal(got[0]!.vringSize, deployed);
        },
      ),
    );
  });
});

describe("vringProblems", () => {
  it("passes only when every device runs vhost with rx = tx = asked", () => {
    const dev = (rx: number, tx = rx, vhostStarted = true) => ({
      rx,
      tx,
      rxMax: 1024,
      txMax: 1024,
      vhostStarted,
    });
    assert.deepEqual(vringProblems("vm1", 256, { net0: dev(256), net1: dev(256) }), []);
    assert.deepEqual(vringProblems("vm1", 256, { net0: dev(256), net1: dev(1024) }), [
      "vm1 net1: negotiated rx 1024 tx 1024, asked 256",
    ]);
    assert.deepEqual(vringProblems("vm1", 256, { net0: dev(256, 256, false) }), [
      "vm1 net0: vhost not started",
    ]);
    assert.deepEqual(vringProblems("vm1", 256, {}), ["vm1: no virtio-net device reported"]);
    assert.deepEqual(vringProblems("vm1", 256, null), ["vm1: negotiated vring sizes not readable"]);
  });
});

describe("VmRingController", () => {
  it("restarts every VM only when the size changes, proves what they negotiated, restores the deployed size", async () => {
    const { dut, size } = fakeDut(1024);
    const logs: string[] = [];
    const ring = new VmRingController(dut, { deployed: 1024, controls: CONTROLS }, (m) => logs.push(m));
    assert.equal(await ring.ensure(1024), null);
    assert.equal(dut.calls.length, 0, "no restart for the deployed size");
    const proof1024 = await ring.prove(1024, null);
    assert.equal(proof1024.ok, true);
    assert.deepEqual(Object.keys(proof1024.negotiated), ["vm1", "vm2"]);

    const s = await ring.ensure(256);
    assert.equal(typeof s, "number");
    assert.deepEqual(
      dut.calls.slice(2).map((c) => c.command),
      CONTROLS.map((c) => `bash '${c}' set 256`),
    );
    assert.equal(size(), 256);
    const proof256 = await ring.prove(256, s);
    assert.equal(proof256.ok, true);
    assert.equal(proof256.negotiated["vm1"]?.["net0"]?.rx, 256);

    const note = await ring.restore();
    assert.match(note ?? "", /deployed vring size 1024/);
    assert.equal(size(), 1024);
    assert.equal(await ring.restore(), null, "nothing to restore a second time");
  });

  it("fails a proof when a device negotiated less than asked", async () => {
    const { dut } = fakeDut(256, { negotiate: () => 128 });
    const ring = new VmRingController(dut, { deployed: 256, controls: CONTROLS }, () => undefined);
    const proof = await ring.prove(256, null);
    assert.equal(proof.ok, false);
    assert.equal(proof.problems.length, 4);
    assert.match(proof.problems[0]!, /vm1 net0: negotiated rx 128 tx 128, asked 256/);
  });

  it("reports a refused restart with the VM and the script's last line, and restores afterwards", async () => {
    const { dut } = fakeDut(1024, { refuse: 256 });
    const ring = new VmRingController(dut, { deployed: 1024, controls: CONTROLS }, () => undefined);
    await assert.rejects(
      ring.ensure(256),
      /vm1 did not restart with vring size 256 \(exit 1\): .*did not start/,
    );
    // the size is unknown after a failed switch: restore() switches back explicitly
    assert.match((await ring.restore()) ?? "", /1024/);
    assert.deepEqual(
      dut.calls.map((c) => c.command.split(" ").slice(-2).join(" ")),
      ["set 256", "set 1024", "set 1024"],
    );
  });
});
