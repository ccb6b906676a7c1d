// Golden checks: the exact JSON-RPC requests the client sends for a fixed trial, recorded by the
// stand-in server and compared field by field with lib/tg/trex/testdata/*.json. The message
// formats come from trex-core doc/trex_rpc_server_spec.asciidoc, named per file below (and in the
// file's "spec" field); acquire's session_id and add_stream's flow_stats.rule_type are not in the
// spec's text but required by the server's handlers (trex_stl_rpc_cmds.cpp / trex_rpc_cmds_common).
// Regenerate after a deliberate change: TREX_GOLDEN_UPDATE=1 node --test build/lib/tg/trex/golden.test.js
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../../../components/shared/scripts";
import { startTrexStandIn, type RecordedRequest, type TrexStandIn } from "../../../tests/support/trexStandIn";
import { TrexClient } from "./client";
import { TrexGenerator } from "./generator";
import { measureLatencyAtPdr } from "./latency";

const TESTDATA = path.join(repoRoot(), "lib", "tg", "trex", "testdata");
const UPDATE = process.env["TREX_GOLDEN_UPDATE"] === "1";

/** Paths where two JSON values differ ("" when equal). */
export function jsonDiff(actual: unknown, expected: unknown, at = "$"): string[] {
  if (
    typeof actual !== typeof expected ||
    Array.isArray(actual) !== Array.isArray(expected) ||
    (actual === null) !== (expected === null)
  ) {
    return [`${at}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`];
  }
  if (actual && typeof actual === "object") {
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
    return [...keys].flatMap((k) =>
      k in a && k in e
        ? jsonDiff(a[k], e[k], `${at}.${k}`)
        : [`${at}.${k}: ${k in a ? "unexpected" : "missing"}`],
    );
  }
  return actual === expected ? [] : [`${at}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`];
}

/** api_h and acquire handlers are random per server: compared as placeholders. */
function normalize(r: RecordedRequest): unknown {
  const params = { ...r.params };
  if ("api_h" in params) params["api_h"] = "<api_h>";
  if ("handler" in params) params["handler"] = "<handler>";
  return { method: r.method, params };
}

let standIn: TrexStandIn;
const phases = new Map<string, RecordedRequest[]>();

before(async () => {
  standIn = await startTrexStandIn();
  const client = new TrexClient({
    host: "127.0.0.1",
    port: standIn.port,
    user: "golden",
    sessionId: 42,
    timeoutMs: 2000,
  });
  const generator = new TrexGenerator(client, { graceS: 0.01 });
  const mark = async (name: string, step: () => Promise<unknown>): Promise<void> => {
    const from = standIn.requests.length;
    await step();
    phases.set(name, standIn.requests.slice(from));
  };
  await mark("connect", () => client.connect());
  await mark("trial64", () => generator.runTrial({ loadPps: 1000, durationS: 0.1, frame: 64 }));
  await mark("trialImix", () => generator.runTrial({ loadPps: 1200, durationS: 0.1, frame: "IMIX_v4_1" }));
  await mark("latency", () =>
    measureLatencyAtPdr(generator, { pdrPps: 2000, frame: 64, durationS: 0.1, fractions: [0.5] }),
  );
  await generator.close();
  client.close();
});
after(() => standIn?.close());

interface Golden {
  readonly file: string;
  readonly spec: string;
  readonly phase: string;
  readonly pick: (r: RecordedRequest) => boolean;
}

const GOLDENS: Golden[] = [
  {
    file: "connect.json",
    spec: "Get Version; API Synchronization (api_sync_v2, STL 5.1)",
    phase: "connect",
    pick: () => true,
  },
  { file: "acquire.json", spec: "Acquire", phase: "trial64", pick: (r) => r.method === "acquire" },
  {
    file: "add_stream_64B.json",
    spec: "Add Stream (stream, packet, mode, rate, vm: flow_var, write_flow_var, fix_checksum_ipv4)",
    phase: "trial64",
    pick: (r) => r.method === "add_stream",
  },
  {
    file: "add_stream_IMIX_v4_1.json",
    spec: "Add Stream (three streams per port, rates 28:16:4, isg)",
    phase: "trialImix",
    pick: (r) => r.method === "add_stream",
  },
  {
    file: "start_traffic.json",
    spec: "Start Traffic (mul object of Update Traffic: type pps, op abs; duration; force)",
    phase: "trial64",
    pick: (r) => r.method === "start_traffic",
  },
  {
    file: "stop_traffic.json",
    spec: "Stop Traffic",
    phase: "trial64",
    pick: (r) => r.method === "stop_traffic",
  },
  {
    file: "get_port_stats.json",
    spec: "Get Port Stats (baseline before start, counters after idle)",
    phase: "trial64",
    pick: (r) => r.method === "get_port_stats",
  },
  {
    file: "latency_streams.json",
    spec: "Add Stream with flow_stats {enabled, stream_id (pg_id), rule_type latency}; Start Traffic per profile_id",
    phase: "latency",
    pick: (r) => ["add_stream", "start_traffic", "get_pgid_stats"].includes(r.method),
  },
];

for (const golden of GOLDENS) {
  test(`golden ${golden.file}: ${golden.spec}`, () => {
    const requests = (phases.get(golden.phase) ?? []).filter(golden.pick).map(normalize);
    assert.ok(requests.length > 0, `no ${golden.file} requests recorded`);
    const file = path.join(TESTDATA, golden.file);
    if (UPDATE) fs.writeFileSync(file, JSON.stringify({ spec: golden.spec, requests }, null, 2) + "\n");
    const expected = JSON.parse(fs.readFileSync(file, "utf8")) as { requests: unknown[] };
    assert.deepEqual(jsonDiff(requests, expected.requests), []);
  });
}

test("golden: every request of the fixed trial is plain JSON-RPC 2.0 with ids in order", () => {
  const all = [...phases.values()].flat();
  const ids = all.map((r) => r.id as number);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  );
  assert.ok(all.every((r) => !r.compressed));
  assert.ok(
    all
      .filter((r) => r.method !== "get_version" && r.method !== "api_sync_v2")
      .every((r) => r.params["api_h"]),
  );
});
