// The client's protocol handling against the stand-in server: version check, api_h, handlers,
// ownership, batches, replies that cannot be read.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { startTrexStandIn, type TrexStandIn } from "../../../tests/support/trexStandIn";
import { TrexClient } from "./client";
import { TrexProtocolError, TrexRpc, TrexRpcError } from "./rpc";

async function withStandIn(body: (s: TrexStandIn) => Promise<void>, version?: string): Promise<void> {
  const standIn = await startTrexStandIn(version ? { version } : {});
  try {
    await body(standIn);
  } finally {
    await standIn.close();
  }
}

const clientFor = (s: TrexStandIn, user = "tester"): TrexClient =>
  new TrexClient({ host: "127.0.0.1", port: s.port, user, timeoutMs: 2000 });

test("connect checks the server version before the API sync", () =>
  withStandIn(async (s) => {
    const client = clientFor(s);
    await assert.rejects(
      client.connect(),
      /TRex server version "v2.50" is not supported \(need v3.0 or later\)/,
    );
    assert.deepEqual(
      s.requests.map((r) => r.method),
      ["get_version"],
    );
    client.close();
  }, "v2.50"));

test("calls without api_h fail like on the real server (-32602); after api_sync_v2 they carry it", () =>
  withStandIn(async (s) => {
    const rpc = new TrexRpc({ host: "127.0.0.1", port: s.port, timeoutMs: 2000 });
    await assert.rejects(rpc.call("get_port_status", { port_id: 0 }), (err: unknown) => {
      assert.ok(err instanceof TrexRpcError);
      assert.equal(err.code, -32602);
      assert.equal(err.method, "get_port_status");
      return true;
    });
    assert.deepEqual(await rpc.call("ping"), {});
    rpc.close();
    const client = clientFor(s);
    const { apiH } = await client.connect();
    assert.equal(apiH, s.apiH);
    assert.deepEqual(await client.portStates([0, 1]), ["IDLE", "IDLE"]);
    client.close();
  }));

test("port calls need this client's handler; force takes ports from another owner", () =>
  withStandIn(async (s) => {
    const first = clientFor(s, "alice");
    const second = clientFor(s, "bob");
    await first.connect();
    await second.connect();
    await first.acquire([0, 1]);
    await assert.rejects(
      second.acquire([0]),
      /acquire failed: error -32000 .*port is already owned by 'alice'/,
    );
    assert.throws(() => second.handlerOf(0), /port 0 is not acquired by this client/);
    await second.acquire([0, 1], true);
    await assert.rejects(first.clear([0]), /port is not owned by you/);
    await second.reset([0, 1]);
    assert.equal(s.ports[0].owner, undefined);
    first.close();
    second.close();
  }));

test("a batch is one message whose replies are matched by id", () =>
  withStandIn(async (s) => {
    const client = clientFor(s);
    await client.connect();
    const before = s.requests.length;
    await client.rawPortStats([0, 1]);
    const batch = s.requests.slice(before);
    assert.deepEqual(
      batch.map((r) => [r.method, r.batch]),
      [
        ["get_port_stats", true],
        ["get_port_stats", true],
      ],
    );
    await assert.rejects(
      client.rpc.call("no_such_method"),
      /no_such_method failed: error -32601 "Method no_such_method not registered"/,
    );
    client.close();
  }));

test("a reply that is not JSON is a protocol error naming the method", async () => {
  const rep = new zmq.Reply({ linger: 0 });
  await rep.bind("tcp://127.0.0.1:0");
  const port = Number(/:(\d+)$/.exec(rep.lastEndpoint ?? "")?.[1]);
  void (async () => {
    for (;;) {
      await rep.receive();
      await rep.send("<html>not trex</html>");
    }
  })().catch(() => undefined);
  const rpc = new TrexRpc({ host: "127.0.0.1", port, timeoutMs: 2000 });
  await assert.rejects(
    rpc.call("ping"),
    (err: unknown) => err instanceof TrexProtocolError && /ping: unreadable reply/.test(err.message),
  );
  rpc.close();
  rep.close();
});
