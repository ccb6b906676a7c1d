import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RemoteExec } from "./remote";
import { counterReader } from "./vswitchCounters";

/** A RemoteExec that records the command and answers with fixed output. */
function fakeExec(stdout: string, code = 0): { exec: RemoteExec; commands: string[] } {
  const commands: string[] = [];
  const exec = {
    name: "fake",
    run: (command: string) => {
      commands.push(command);
      return Promise.resolve({ code, stdout, stderr: "", timedOut: false });
    },
    prepare: () => {
      throw new Error("not used");
    },
    close: () => Promise.resolve(),
  } as unknown as RemoteExec;
  return { exec, commands };
}

const stats = (rx: number, tx: number): unknown => [
  "map",
  [
    ["rx_packets", rx],
    ["tx_packets", tx],
    ["rx_dropped", 1],
  ],
];
// what `ovs-vsctl ... list Interface` printed here, trimmed: rows in hash order
const LIST = JSON.stringify({
  headings: ["name", "ofport", "statistics"],
  data: [
    ["vhu1", 4, stats(30, 31)],
    ["nic0", 1, stats(10, 11)],
    ["vplbr00000000", 65534, stats(0, 0)],
    ["vhu0", 2, stats(20, 21)],
    ["nic1", 3, stats(40, 41)],
  ],
});

test("ovs: the Interface table over the lab's db socket, ports in ofport order, the bridge left out", async () => {
  const reader = counterReader(
    { kind: "ovs", runDir: "/run/vhost-perf-lab/s/vpl-s-ovs", bridge: "vplbr00000000" },
    { telemetryClient: null },
  );
  assert.ok(reader);
  const { exec, commands } = fakeExec(LIST);
  const ports = await reader.read(exec);
  assert.match(
    commands[0]!,
    /^ovs-vsctl --db=unix:\/run\/vhost-perf-lab\/s\/vpl-s-ovs\/db\.sock .*list Interface$/,
  );
  assert.deepEqual(
    ports?.map((p) => [p.id, p.name, p.stats["ipackets"], p.stats["opackets"], p.stats["imissed"]]),
    [
      [1, "nic0", 10, 11, 1],
      [2, "vhu0", 20, 21, 1],
      [3, "nic1", 40, 41, 1],
      [4, "vhu1", 30, 31, 1],
    ],
  );
  assert.equal(await reader.read(fakeExec("", 1).exec), null, "a failed ovs-vsctl: no counters");
  assert.equal(await reader.read(fakeExec("not json").exec), null);
});

test("VPP: show interface over the CLI socket, per port in sw_if_index order; a failed vppctl gives none", async () => {
  const reader = counterReader({ kind: "vpp", cliSocket: "/run/vpp/cli.sock" }, { telemetryClient: null });
  assert.ok(reader);
  const text = readFileSync(join(__dirname, "../../../lib/vswitch/vpp/testdata/show-interface.txt"), "utf8");
  const { exec, commands } = fakeExec(text);
  const ports = await reader.read(exec);
  assert.deepEqual(commands, ["vppctl -s /run/vpp/cli.sock show interface"]);
  assert.deepEqual(
    ports?.slice(0, 2).map((p) => [p.id, p.name]),
    [
      [1, "port0"],
      [2, "port1"],
    ],
  );
  assert.equal(ports?.[0]?.stats["ipackets"], 14880012);
  assert.equal(await reader.read(fakeExec("", 1).exec), null);
});

test("dpdk-telemetry needs the client; none has no reader", () => {
  assert.equal(counterReader({ kind: "dpdk-telemetry", prefix: "p" }, { telemetryClient: null }), null);
  assert.ok(counterReader({ kind: "dpdk-telemetry", prefix: "p" }, { telemetryClient: "print()" }));
  assert.equal(counterReader({ kind: "none" }, { telemetryClient: null }), null);
  assert.equal(counterReader(undefined, { telemetryClient: null }), null);
});
