// The vppctl wiring: the perf lab's exact command list (golden), l2bd and multi-queue variants,
// refusals, and property tests: every NIC port and vhost interface is cross-connected both ways
// exactly once, and rx placement covers every queue once, spread evenly over the workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createVhostUser, vppPairs, vppWiring, wiringScript, type VppWiringInput } from "./commands";

const PERF: VppWiringInput = {
  nicNames: ["port0", "port1"],
  sockets: ["/run/vpp/sock-1-1", "/run/vpp/sock-1-2"],
  nicRxQueues: 1,
  vhostQueues: 1,
  workers: 1,
  mode: "l2xc",
};

test("the perf lab's wiring, command by command, with VPP's answers", () => {
  assert.equal(
    wiringScript(vppWiring(PERF)),
    [
      "VirtualEthernet0/0/0\tcreate vhost-user socket /run/vpp/sock-1-1",
      "VirtualEthernet0/0/1\tcreate vhost-user socket /run/vpp/sock-1-2",
      "\tset interface state port0 up",
      "\tset interface state port1 up",
      "\tset interface state VirtualEthernet0/0/0 up",
      "\tset interface state VirtualEthernet0/0/1 up",
      "\tset interface l2 xconnect port0 VirtualEthernet0/0/0",
      "\tset interface l2 xconnect VirtualEthernet0/0/0 port0",
      "\tset interface l2 xconnect VirtualEthernet0/0/1 port1",
      "\tset interface l2 xconnect port1 VirtualEthernet0/0/1",
      "\tset interface rx-placement port0 queue 0 worker 0",
      "\tset interface rx-placement port1 queue 0 worker 0",
      "\tset interface rx-placement VirtualEthernet0/0/0 queue 0 worker 0",
      "\tset interface rx-placement VirtualEthernet0/0/1 queue 0 worker 0",
      "",
    ].join("\n"),
  );
});

test("l2bd: one bridge domain per pair; two workers, two queues: round robin", () => {
  const cmds = vppWiring({ ...PERF, mode: "l2bd", workers: 2, nicRxQueues: 2, vhostQueues: 2, gso: true });
  const cli = cmds.map((c) => c.cli);
  assert.equal(cmds[0]!.cli, "create vhost-user socket /run/vpp/sock-1-1 gso");
  assert.deepEqual(
    cmds.filter((c) => c.cli.startsWith("create bridge-domain")).map((c) => [c.cli, c.expect]),
    [
      ["create bridge-domain 1 learn 1 forward 1 uu-flood 1 flood 1 arp-term 0", "bridge-domain 1"],
      ["create bridge-domain 2 learn 1 forward 1 uu-flood 1 flood 1 arp-term 0", "bridge-domain 2"],
    ],
  );
  assert.ok(
    cli.includes("set interface l2 bridge port0 1") &&
      cli.includes("set interface l2 bridge VirtualEthernet0/0/1 2"),
  );
  assert.deepEqual(cli.filter((c) => c.includes("rx-placement")).slice(0, 4), [
    "set interface rx-placement port0 queue 0 worker 0",
    "set interface rx-placement port0 queue 1 worker 1",
    "set interface rx-placement port1 queue 0 worker 0",
    "set interface rx-placement port1 queue 1 worker 1",
  ]);
});

test("refusals: a socket path that would reach VPP's parser oddly, wrong port counts", () => {
  assert.throws(() => createVhostUser("/run/vpp/a b"), /not a vhost-user socket/);
  assert.throws(() => createVhostUser("run/x"), /not a vhost-user socket/);
  assert.throws(() => createVhostUser("/run/../etc/x"), /not a vhost-user socket/);
  assert.equal(
    createVhostUser("/run/x.sock", { packed: true }),
    "create vhost-user socket /run/x.sock packed",
  );
  assert.throws(() => vppWiring({ ...PERF, nicNames: ["port0"] }), /2 NIC ports/);
  assert.throws(() => vppWiring({ ...PERF, sockets: ["/a"] }), /two sockets per VM/);
  assert.throws(() => vppWiring({ ...PERF, workers: 0 }), /at least one worker/);
  assert.throws(() => vppWiring({ ...PERF, nicNames: ["port0", "bad name"] }), /interface name/);
});

test("property: a chain port0 -> vm1 -> ... -> vmN -> port1, each interface xconnected both ways once", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      (vms, workers, nq, vq) => {
        const sockets = Array.from(
          { length: 2 * vms },
          (_, k) => `/run/vpp/sock-${(k >> 1) + 1}-${(k & 1) + 1}`,
        );
        const input = { ...PERF, sockets, workers, nicRxQueues: nq, vhostQueues: vq };
        const cmds = vppWiring(input);
        const xc = cmds
          .map((c) => /^set interface l2 xconnect (\S+) (\S+)$/.exec(c.cli))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => [m[1]!, m[2]!]);
        const from = new Map(xc.map(([a, b]) => [a, b]));
        assert.equal(from.size, xc.length, "each interface sends to one peer");
        for (const [a, b] of xc) assert.equal(from.get(b), a, `${a} <-> ${b} both ways`);
        // walking from port0 through every VM reaches port1
        let at = "port0";
        const seen = [at];
        for (let hop = 0; hop < vms; hop++) {
          const inVm = from.get(at)!; // VM's first NIC
          const k = Number(/\/(\d+)$/.exec(inVm)![1]);
          assert.equal(k % 2, 0, "enters a VM by its first NIC");
          at = `VirtualEthernet0/0/${k + 1}`; // the VM forwards to its second NIC
          seen.push(inVm, at);
        }
        assert.equal(from.get(at), "port1");
        assert.equal(new Set(seen).size, seen.length);
        assert.equal(vppPairs(input.nicNames, sockets).length, vms + 1);
        // rx placement: every (interface, queue) once; worker loads differ by at most one
        const rx = cmds
          .map((c) => /^set interface rx-placement (\S+) queue (\d+) worker (\d+)$/.exec(c.cli))
          .filter((m): m is RegExpExecArray => m !== null);
        assert.equal(rx.length, 2 * nq + 2 * vms * vq);
        assert.equal(new Set(rx.map((m) => `${m[1]}/${m[2]}`)).size, rx.length);
        const load = Array.from({ length: workers }, (_, w) => rx.filter((m) => Number(m[3]) === w).length);
        assert.ok(Math.max(...load) - Math.min(...load) <= 1, String(load));
        // creates come first and answer their interface's name
        cmds.slice(0, 2 * vms).forEach((c, k) => assert.equal(c.expect, `VirtualEthernet0/0/${k}`));
      },
    ),
  );
});
