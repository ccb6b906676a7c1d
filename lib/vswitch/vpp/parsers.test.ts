// The CLI parsers against the recorded answers in testdata/ (see its README for the VPP source
// each follows), the bench reader against a fake DUT exec, and property tests: tables rendered
// with VPP's own column formats parse back to what was rendered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { repoRoot } from "../../lab/testutil";
import {
  parseShowInterface,
  parseShowThreads,
  parseShowVersion,
  parseShowVhostUser,
  portStats,
  VPP_WORKER_COMM,
  workerTids,
} from "./parsers";
import { readVppBench, vppctl } from "./benchReader";

const rec = (f: string): string => readFileSync(join(repoRoot(), "lib/vswitch/vpp/testdata", f), "utf8");

test("show threads: main and worker rows, LWP = TID, cores; n/a and RR read", () => {
  const t = parseShowThreads(rec("show-threads-perf.txt"));
  assert.deepEqual(t[0], {
    id: 0,
    name: "vpp_main",
    type: "",
    lwp: 2817,
    policy: "other",
    priority: 0,
    lcore: 1,
    core: 1,
    socket: 0,
  });
  assert.deepEqual(workerTids(t), [2824]);
  const two = parseShowThreads(rec("show-threads-2w.txt"));
  assert.deepEqual(workerTids(two), [41244, 41245]);
  assert.deepEqual([two[2]!.policy, two[2]!.priority, two[2]!.lcore], ["rr", 1, 3]);
  const na = parseShowThreads(
    "ID     Name                Type        LWP     Sched Policy (Priority)  lcore  Core   Socket State     \n" +
      "0      vpp_main                        77      other (0)                n/a    n/a    n/a\n",
  );
  assert.deepEqual([na[0]!.lcore, na[0]!.core, na[0]!.socket], [null, null, null]);
  assert.throws(() => parseShowThreads("unknown input `thread'\n"), /no header/);
  assert.throws(
    () => parseShowThreads(rec("show-threads-perf.txt") + "garbage line\n"),
    /cannot read the line "garbage line"/,
  );
  assert.ok(VPP_WORKER_COMM.test("vpp_wk_12") && !VPP_WORKER_COMM.test("vpp_main"));
});

test("show vhost-user: sockets, client role, connected, negotiated vring sizes", () => {
  const v = parseShowVhostUser(rec("show-vhost-user-1024.txt"));
  assert.deepEqual(
    v.map((i) => [i.name, i.ifindex, i.socket, i.role, i.errno, i.connected, i.rxSize, i.txSize]),
    [
      ["VirtualEthernet0/0/0", 3, "/run/vpp/sock-1-1", "client", "Success", true, 1024, 1024],
      ["VirtualEthernet0/0/1", 4, "/run/vpp/sock-1-2", "client", "Success", true, 1024, 1024],
    ],
  );
  assert.deepEqual(v[0]!.features, [
    "VIRTIO_NET_F_MRG_RXBUF",
    "VIRTIO_F_INDIRECT_DESC",
    "VHOST_USER_F_PROTOCOL_FEATURES",
    "VIRTIO_F_VERSION_1",
  ]);
  const half = parseShowVhostUser(rec("show-vhost-user-256-half.txt"));
  assert.deepEqual([half[0]!.rxSize, half[0]!.txSize, half[0]!.connected], [256, 256, true]);
  assert.deepEqual(
    [half[1]!.connected, half[1]!.errno, half[1]!.rxSize, half[1]!.queues.length],
    [false, "Connection refused", undefined, 0],
  );
  // an older VPP prints "Virtqueue N" without the direction; disabled vrings do not count
  const old = parseShowVhostUser(
    [
      "Virtio vhost-user interfaces",
      "Interface: VirtualEthernet0/0/0 (ifindex 1)",
      ' socket filename /tmp/s type server errno "Success"',
      " Memory regions (total 1)",
      " Virtqueue 0",
      "  qsz 512 last_avail_idx 0 last_used_idx 0",
      " Virtqueue 1",
      "  qsz 512 last_avail_idx 0 last_used_idx 0",
      " Virtqueue 3 (RX disabled)",
      "  qsz 1024 last_avail_idx 0 last_used_idx 0",
    ].join("\n"),
  );
  assert.deepEqual([old[0]!.role, old[0]!.rxSize, old[0]!.txSize], ["server", 512, 512]);
  assert.throws(
    () => parseShowVhostUser("show vhost-user: unknown command"),
    /no 'Virtio vhost-user interfaces'/,
  );
  assert.throws(
    () =>
      parseShowVhostUser(
        "Virtio vhost-user interfaces\nInterface: X (ifindex 1)\n  qsz 1 last_avail_idx 0\n",
      ),
    /qsz line outside/,
  );
  assert.deepEqual(
    parseShowVhostUser("Virtio vhost-user interfaces\nGlobal:\n  coalesce frames 32 time 1e-3\n"),
    [],
  );
});

test("show interface: per-interface counters on continuation lines; runner's port stats", () => {
  const ifs = parseShowInterface(rec("show-interface.txt"));
  assert.deepEqual(
    ifs.map((i) => [i.name, i.idx, i.up]),
    [
      ["port0", 1, true],
      ["port1", 2, true],
      ["VirtualEthernet0/0/0", 3, true],
      ["VirtualEthernet0/0/1", 4, true],
      ["local0", 0, false],
    ],
  );
  assert.deepEqual(ifs[0]!.counters, {
    "rx packets": 14880012,
    "rx bytes": 952320768,
    "tx packets": 14879990,
    "tx bytes": 952319360,
    drops: 22,
    "rx-miss": 1310,
  });
  assert.deepEqual(portStats(ifs[1]!), {
    ipackets: 14879990,
    opackets: 14880001,
    imissed: 0,
    ierrors: 0,
    oerrors: 11,
    drops: 0,
  });
  // the older layout without the MTU column (VPP's doc example)
  const old = parseShowInterface(
    "              Name               Idx       State          Counter          Count\n" +
      "TenGigabitEthernet86/0/0          1         up       rx packets               6569213\n" +
      "                                                     tx packets                 50384\n" +
      "TenGigabitEthernet86/0/1          2        down\n",
  );
  assert.deepEqual(
    old.map((i) => [i.name, i.counters["rx packets"], i.counters["tx packets"], i.up]),
    [
      ["TenGigabitEthernet86/0/0", 6569213, 50384, true],
      ["TenGigabitEthernet86/0/1", undefined, undefined, false],
    ],
  );
  assert.throws(() => parseShowInterface("unknown input `interfac'"), /no header/);
});

test("show version", () => {
  assert.equal(parseShowVersion(rec("show-version.txt")), "24.10-release");
  assert.throws(
    () => parseShowVersion("clib_socket_init: connect (fd 3, '/run/x'): Connection refused"),
    /not a VPP version/,
  );
});

test("bench reader: three quoted vppctl calls on the CLI socket; ports, worker TIDs, rings", async () => {
  const sock = "/run/vhost-perf-lab/perf/dut1-vswitch/cli.sock";
  const calls: string[] = [];
  const answers: Record<string, string> = {
    [vppctl(sock, "show", "interface")]: rec("show-interface.txt"),
    [vppctl(sock, "show", "threads")]: rec("show-threads-2w.txt"),
    [vppctl(sock, "show", "vhost-user")]: rec("show-vhost-user-256-half.txt"),
  };
  const exec = async (c: string): Promise<string> => {
    calls.push(c);
    const a = answers[c];
    if (a === undefined) throw new Error(`unexpected command ${c}`);
    return a;
  };
  const r = await readVppBench(exec, sock);
  assert.deepEqual(calls, [
    `vppctl -s ${sock} show interface`,
    `vppctl -s ${sock} show threads`,
    `vppctl -s ${sock} show vhost-user`,
  ]);
  assert.deepEqual(
    r.ports.map((p) => [p.id, p.name, p.stats.ipackets, p.stats.drops]),
    [
      [1, "port0", 14880012, 22],
      [2, "port1", 14879990, 0],
      [3, "VirtualEthernet0/0/0", 14879990, 0],
      [4, "VirtualEthernet0/0/1", 14880001, 1],
    ],
  );
  assert.deepEqual(r.workerTids, [41244, 41245]);
  assert.deepEqual(r.rings, [
    {
      socket: "/run/vpp/sock-1-1",
      interface: "VirtualEthernet0/0/0",
      connected: true,
      rxSize: 256,
      txSize: 256,
    },
    { socket: "/run/vpp/sock-1-2", interface: "VirtualEthernet0/0/1", connected: false },
  ]);
  await assert.rejects(
    readVppBench(
      async (c) =>
        c.endsWith("threads") ? rec("show-threads-perf.txt").split("\n").slice(0, 2).join("\n") : answers[c]!,
      sock,
    ),
    /no worker threads/,
  );
  assert.throws(() => vppctl("/run/x; reboot"), /not a CLI socket/);
  assert.equal(vppctl("/run/x.sock", "show", "int"), "vppctl -s /run/x.sock show int");
});

const pad = (s: string | number, n: number): string => String(s).padEnd(n);

test("property: show threads rendered with threads_cli.c's widths parses back", () => {
  const row = fc.record({
    name: fc.stringMatching(/^[a-z_]{1,8}[0-9]{0,3}$/),
    worker: fc.boolean(),
    lwp: fc.integer({ min: 1, max: 4194304 }),
    policy: fc.constantFrom("other", "batch", "idle", "fifo", "rr"),
    prio: fc.integer({ min: 0, max: 99 }),
    cpu: fc.option(fc.tuple(fc.nat(1023), fc.nat(511), fc.nat(7)), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 12 }), (rows) => {
      const text = [
        `${pad("ID", 7)}${pad("Name", 20)}${pad("Type", 12)}${pad("LWP", 8)}${pad("Sched Policy (Priority)", 25)}${pad("lcore", 7)}${pad("Core", 7)}${pad("Socket", 7)}${pad("State", 10)}`,
        ...rows.map((r, i) => {
          const name = r.worker ? `vpp_wk_${i}` : r.name;
          const head = `${pad(i, 7)}${pad(name, 20)}${pad(r.worker ? "workers" : "", 12)}${pad(r.lwp, 8)}${pad(`${r.policy} (${r.prio})`, 25)}`;
          return r.cpu
            ? `${head}${pad(r.cpu[0], 7)}${pad(r.cpu[1], 7)}${pad(r.cpu[2], 17)}`
            : `${head}${pad("n/a", 7)}${pad("n/a", 7)}${pad("n/a", 7)}`;
        }),
      ].join("\n");
      const got = parseShowThreads(text);
      assert.deepEqual(
        got.map((t) => [t.id, t.lwp, t.policy, t.priority, t.lcore]),
        rows.map((r, i) => [i, r.lwp, r.policy, r.prio, r.cpu ? r.cpu[0] : null]),
      );
      assert.deepEqual(
        workerTids(got),
        rows.filter((r, i) => r.worker || /^vpp_wk_\d+$/.test(rows[i]!.name)).map((r) => r.lwp),
      );
    }),
  );
});

test("property: show interface tables parse back to every counter", () => {
  const counterName = fc.constantFrom(
    "rx packets",
    "rx bytes",
    "tx packets",
    "tx bytes",
    "drops",
    "punt",
    "ip4",
    "rx-miss",
    "rx-no-buf",
    "tx-error",
  );
  const iface = fc.record({
    name: fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,12}(\/[0-9]{1,2}){0,3}$/),
    up: fc.boolean(),
    counters: fc.dictionary(counterName, fc.nat(), { maxKeys: 6 }),
  });
  fc.assert(
    fc.property(fc.uniqueArray(iface, { selector: (i) => i.name, minLength: 1, maxLength: 6 }), (ifs) => {
      const lines = [
        `${pad("              Name", 32)}${pad("Idx", 5)}${pad("  State", 10)}${pad("MTU (L3/IP4/IP6/MPLS)", 23)}${pad("Counter", 16)}${"Count".padStart(16)}`,
      ];
      ifs.forEach((i, idx) => {
        const entries = Object.entries(i.counters);
        const head = `${pad(i.name, 32)}${pad(idx, 7)}${pad(i.up ? "up" : "down", 9)}${pad("9000/0/0/0", 21)}`;
        if (entries.length === 0) lines.push(head.trimEnd());
        entries.forEach(([k, v], j) =>
          lines.push(`${j === 0 ? head : " ".repeat(69)}${pad(k, 16)}${String(v).padStart(16)}`),
        );
      });
      const got = parseShowInterface(lines.join("\n"));
      assert.deepEqual(
        got.map((g) => [g.name, g.idx, g.up, g.counters]),
        ifs.map((i, idx) => [i.name, idx, i.up, { ...i.counters }]),
      );
    }),
  );
});
