// startup.conf from the lab model: the perf stack's exact file (golden), the plugin set by VPP
// version, refusals, and a property test: every generated file is balanced, names each device
// once and keeps every runtime path in the vswitch's own directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { repoRoot } from "../../lab/testutil";
import { vppCliSocket, vppPlugins, vppStartupConf, type VppStartupInput } from "./startupConf";

const golden = (f: string): string => readFileSync(join(repoRoot(), "lib/vswitch/vpp/testdata", f), "utf8");

const PERF: VppStartupInput = {
  dir: "/run/vhost-perf-lab/perf/dut1-vswitch",
  apiPrefix: "vpl-perf-dut1-vswitch",
  mainCore: 1,
  workerCores: [2],
  devices: [
    { pci: "0000:18:00.0", name: "port0" },
    { pci: "0000:18:00.1", name: "port1" },
  ],
  rxQueues: 1,
  buffers: 16384,
  uioDriver: "vfio-pci",
  noMultiSeg: true,
  version: "24.10-release",
};

test("startup.conf of the perf lab, byte for byte", () => {
  assert.equal(vppStartupConf(PERF), golden("startup-perf.conf"));
  assert.equal(vppCliSocket(PERF.dir + "/"), "/run/vhost-perf-lab/perf/dut1-vswitch/cli.sock");
});

test("plugins: dpdk always; vhost_plugin.so from VPP 23.10 on (vhost-user in vnet before)", () => {
  assert.deepEqual(vppPlugins("23.06-release"), ["dpdk_plugin.so"]);
  assert.deepEqual(vppPlugins("23.10-release"), ["dpdk_plugin.so", "vhost_plugin.so"]);
  assert.deepEqual(vppPlugins("25.02-rc0~12-g0123abc"), ["dpdk_plugin.so", "vhost_plugin.so"]);
  assert.throws(() => vppPlugins("v24.10"), /not a VPP version/);
  const old = vppStartupConf({
    ...PERF,
    version: "22.10-release",
    noMultiSeg: false,
    workerCores: [2, 3, 5],
  });
  assert.doesNotMatch(old, /vhost_plugin|no-multi-seg/);
  assert.match(old, /corelist-workers 2-3,5\n/);
});

test("startup.conf refuses what VPP would misread", () => {
  assert.throws(() => vppStartupConf({ ...PERF, workerCores: [] }), /at least one worker/);
  assert.throws(() => vppStartupConf({ ...PERF, workerCores: [1, 2] }), /main core 1 is also a worker/);
  assert.throws(() => vppStartupConf({ ...PERF, dir: "/run/a b" }), /split on/);
  assert.throws(() => vppStartupConf({ ...PERF, devices: [{ pci: "18:00.0", name: "port0" }] }), /full PCI/);
  assert.throws(
    () => vppStartupConf({ ...PERF, devices: [{ pci: "0000:18:00.0", name: "p }" }] }),
    /interface name/,
  );
});

test("property: balanced braces, each device once, runtime paths only under the dir", () => {
  const pci = fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 7 }))
    .map(([b, d, f]) => `0000:${b.toString(16).padStart(2, "0")}:${d.toString(16).padStart(2, "0")}.${f}`);
  fc.assert(
    fc.property(
      fc.uniqueArray(pci, { minLength: 1, maxLength: 4 }),
      fc.uniqueArray(fc.integer({ min: 1, max: 63 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 16 }),
      fc.stringMatching(/^\/run\/[a-z0-9]{1,8}\/[a-z0-9-]{1,12}$/),
      (pcis, workers, rxq, dir) => {
        const text = vppStartupConf({
          ...PERF,
          dir,
          devices: pcis.map((p, i) => ({ pci: p, name: `port${i}` })),
          workerCores: workers,
          mainCore: 0,
          rxQueues: rxq,
        });
        let depth = 0;
        for (const l of text.split("\n")) {
          depth += (l.match(/\{/g) ?? []).length - (l.match(/\}/g) ?? []).length;
          assert.ok(depth >= 0, text);
        }
        assert.equal(depth, 0);
        for (const p of pcis) assert.equal(text.split(`dev ${p} {`).length, 2, text);
        assert.equal((text.match(/num-rx-queues (\d+)/g) ?? []).length, pcis.length);
        assert.ok(text.includes(`num-rx-queues ${rxq}\n`));
        for (const m of text.matchAll(/(?:log|cli-listen|socket-name) (\S+)/g))
          assert.ok(m[1]!.startsWith(dir + "/"), m[1]);
        const listed = /corelist-workers (\S+)/.exec(text)![1]!;
        const cores = listed.split(",").flatMap((r) => {
          const [a, b] = r.split("-").map(Number);
          return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, k) => a! + k);
        });
        assert.deepEqual(
          cores,
          [...workers].sort((a, b) => a - b),
        );
      },
    ),
  );
});
