// The generator against the stand-in TRex server (tests/support/trexStandIn.ts): counts per
// direction, loss per direction, an overloaded TG, server errors, timeouts, abort, zlib framing,
// and latency at fractions of the PDR.
import { test } from "node:test";
import assert from "node:assert/strict";
import { recordTrial } from "../../measure/trafficGenerator";
import { startTrexStandIn, type StandInOptions, type TrexStandIn } from "../../../tests/support/trexStandIn";
import { execError } from "../../../tests/support/trexStandInPort";
import { TrexClient, type TrexClientOptions } from "./client";
import { TrexGenerator } from "./generator";
import { measureLatencyAtPdr } from "./latency";
import { TrexRpcError, TrexTimeoutError } from "./rpc";

async function withGenerator(
  body: (g: TrexGenerator, s: TrexStandIn) => Promise<void>,
  standInOptions: StandInOptions = {},
  clientOptions: Partial<TrexClientOptions> = {},
): Promise<void> {
  const standIn = await startTrexStandIn(standInOptions);
  const client = new TrexClient({ host: "127.0.0.1", port: standIn.port, timeoutMs: 2000, ...clientOptions });
  try {
    await client.connect();
    await body(new TrexGenerator(client, { graceS: 0.02 }), standIn);
  } finally {
    client.close();
    await standIn.close();
  }
}

test("a trial's counts per direction add up to the totals, without loss on a fast device", () =>
  withGenerator(async (g) => {
    const request = { loadPps: 20_000, durationS: 0.2, frame: 64 as const };
    const counts = await g.runTrial(request);
    assert.deepEqual(
      counts.perDirection.map((d) => [d.txPort, d.rxPort, d.offeredCount, d.receivedCount]),
      [
        [0, 1, 4000, 4000],
        [1, 0, 4000, 4000],
      ],
    );
    const record = recordTrial(request, counts, g.directions);
    assert.equal(record.offeredCount, 8000);
    assert.equal(record.lossRatio, 0);
    assert.equal(counts.details.overran, false);
    // The server's counters are cumulative (the stand-in starts them at 1000/2000): a second
    // trial must count from its own baseline.
    const again = await g.runTrial(request);
    assert.equal(again.offeredCount, 8000);
  }));

test("loss is per direction: a device slow in direction 1 drops only there", () =>
  withGenerator(
    async (g) => {
      const counts = await g.runTrial({ loadPps: 4000, durationS: 0.25, frame: "IMIX_v4_1" });
      const [d0, d1] = counts.perDirection;
      assert.equal(d0?.receivedCount, d0?.offeredCount);
      assert.equal(d1?.offeredCount, 1000);
      assert.equal(d1?.receivedCount, 250); // capacity 1000 of 4000 pps
      assert.equal(counts.receivedCount, 1250);
    },
    { capacityPps: [1e9, 1000] },
  ));

test("an overloaded TG that stretches the timed run shows as overran with a shortfall", () =>
  withGenerator(async (g, standIn) => {
    standIn.slowFactor = 3;
    const request = { loadPps: 10_000, durationS: 0.2, frame: 1518 as const };
    const counts = await g.runTrial(request);
    assert.deepEqual(counts.details.stillSendingAtStop, [true, true]);
    assert.equal(counts.details.overran, true);
    const record = recordTrial(request, counts, 2);
    assert.equal(record.generatorShortfall, true);
    assert.ok(counts.offeredCount < 0.5 * record.intendedCount, `${counts.offeredCount}`);
  }));

test("a server error surfaces with the method, code and the server's message", () =>
  withGenerator(async (g, standIn) => {
    standIn.faults.set("start_traffic", execError("port 0 is in the middle of configuration"));
    await assert.rejects(g.runTrial({ loadPps: 1000, durationS: 0.1, frame: 64 }), (err: unknown) => {
      assert.ok(err instanceof TrexRpcError);
      assert.equal(err.method, "start_traffic");
      assert.equal(err.code, -32000);
      assert.match(
        err.message,
        /start_traffic failed: error -32000 "Failed To Execute Method": port 0 is in the middle/,
      );
      return true;
    });
  }));

test("a reply that does not come in time is a timeout naming the method; the client recovers", () =>
  withGenerator(
    async (g, standIn) => {
      await g.prepare(64);
      standIn.delays.set("get_port_status", 700);
      await assert.rejects(g.client.portStates([0, 1]), (err: unknown) => {
        assert.ok(err instanceof TrexTimeoutError);
        assert.match(
          err.message,
          /get_port_status\+get_port_status to tcp:\/\/127\.0\.0\.1:\d+: no reply within 250 ms/,
        );
        return true;
      });
      standIn.delays.clear();
      await new Promise((r) => setTimeout(r, 600));
      // A fresh REQ socket: the one that timed out would refuse to send.
      assert.deepEqual(await g.client.portStates([0, 1]), ["STREAMS", "STREAMS"]);
    },
    {},
    { timeoutMs: 250 },
  ));

test("aborting a trial stops the traffic and rejects with the abort reason", () =>
  withGenerator(async (g, standIn) => {
    const controller = new AbortController();
    const trial = g.runTrial({ loadPps: 1000, durationS: 5, frame: 64 }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("operator abort")), 150);
    const started = Date.now();
    await assert.rejects(trial, /operator abort/);
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(await g.client.portStates([0, 1]), ["STREAMS", "STREAMS"]);
    assert.equal(standIn.requests.filter((r) => r.method === "stop_traffic").length, 2);
  }));

test("zlib-framed requests get framed replies, and framed replies to plain requests are read", async () => {
  await withGenerator(
    async (g, standIn) => {
      const counts = await g.runTrial({ loadPps: 5000, durationS: 0.1, frame: 9000 });
      assert.equal(counts.offeredCount, 1000);
      assert.ok(standIn.requests.every((r) => r.compressed));
    },
    {},
    { compress: true },
  );
  await withGenerator(async (g, standIn) => {
    standIn.replyFraming = "zlib";
    const counts = await g.runTrial({ loadPps: 5000, durationS: 0.1, frame: 64 });
    assert.equal(counts.receivedCount, 1000);
  });
});

test("latency at 10/50/90 % of PDR: per direction min/avg/max and the HDR histogram", () =>
  withGenerator(
    async (g) => {
      const levels = await measureLatencyAtPdr(g, {
        pdrPps: 8000,
        frame: 64,
        durationS: 0.1,
        latencyPps: 1000,
      });
      assert.deepEqual(
        levels.map((l) => [l.fraction, l.loadPps]),
        [
          [0.1, 800],
          [0.5, 4000],
          [0.9, 7200],
        ],
      );
      for (const level of levels) {
        for (const [d, lat] of level.perDirection.entries()) {
          assert.equal(lat.direction, d);
          assert.ok(lat.minUs <= lat.avgUs && lat.avgUs <= lat.maxUs, JSON.stringify(lat));
          assert.match(lat.hdrh ?? "", /^HISTF/);
          assert.equal(lat.stats.txPackets, 100); // a fresh packet group per level
        }
      }
      const avg = levels.map((l) => l.perDirection[0].avgUs);
      assert.ok(avg[0]! < avg[1]! && avg[1]! < avg[2]!, `latency grows with load: ${avg}`);
    },
    { capacityPps: [10_000, 10_000] },
  ));
