import { test } from "node:test";
import assert from "node:assert/strict";
import { buildQemuArgv, formatQemuCommand, qemuArgGroups } from "./argv";
import { ARG_GROUPS } from "./types";
import { localVm, parseOpts, valuesOf } from "./testSpec";

const devices = (argv: string[]) => valuesOf(argv, "-device").map(parseOpts);
const virtioNets = (argv: string[]) => devices(argv).filter((d) => d.head === "virtio-net-pci");

test("argv[0] is the QEMU binary and no element is a shell string", () => {
  const argv = buildQemuArgv(localVm());
  assert.equal(argv[0], "/opt/vhost-perf-lab/qemu/7.2-patched/bin/qemu-system-x86_64");
  assert.ok(
    argv.every((a) => !a.includes(" -")),
    "options are separate elements",
  );
});

test("tcg: multi-threaded TCG, EPYC by default, pc machine without accel=kvm", () => {
  const argv = buildQemuArgv(localVm());
  assert.deepEqual(valuesOf(argv, "-accel"), ["tcg,thread=multi"]);
  assert.deepEqual(valuesOf(argv, "-cpu"), ["EPYC"]);
  assert.deepEqual(valuesOf(argv, "-machine"), ["pc,usb=off"]);
  assert.ok(!argv.includes("-enable-kvm"));
  assert.deepEqual(valuesOf(buildQemuArgv(localVm({ cpuModel: "Skylake-Server" })), "-cpu"), [
    "Skylake-Server",
  ]);
});

test("kvm: CSIT's group -enable-kvm -cpu host -machine pc,accel=kvm,usb=off,mem-merge=off", () => {
  const argv = buildQemuArgv(localVm({ accel: "kvm", cpuModel: "EPYC" }));
  const g = qemuArgGroups(localVm({ accel: "kvm" })).find((x) => x.name === "machine");
  assert.deepEqual(g?.args, [
    "-enable-kvm",
    "-cpu",
    "host",
    "-machine",
    "pc,accel=kvm,usb=off,mem-merge=off",
  ]);
  assert.deepEqual(valuesOf(argv, "-cpu"), ["host"], "the TCG cpuModel does not apply to KVM");
  assert.equal(valuesOf(argv, "-accel").length, 0);
});

test("firmware directories become -L options in order, none by default", () => {
  assert.deepEqual(valuesOf(buildQemuArgv(localVm()), "-L"), []);
  const argv = buildQemuArgv(localVm({ firmwareDirs: ["/usr/share/seabios", "/usr/lib/ipxe/qemu"] }));
  assert.deepEqual(valuesOf(argv, "-L"), ["/usr/share/seabios", "/usr/lib/ipxe/qemu"]);
  assert.throws(() => buildQemuArgv(localVm({ firmwareDirs: ["seabios"] })), /firmwareDirs\[0\]/);
});

test("identity: -name with debug-threads=on, -smp one socket N cores", () => {
  const argv = buildQemuArgv(localVm({ vcpus: 3 }));
  assert.deepEqual(valuesOf(argv, "-name"), ["vm1,debug-threads=on"]);
  assert.deepEqual(valuesOf(argv, "-smp"), ["3,sockets=1,cores=3,threads=1"]);
});

test("memory: hugetlbfs file shared with the vswitch, one NUMA node, -m matches", () => {
  const argv = buildQemuArgv(localVm());
  const objs = valuesOf(argv, "-object").map(parseOpts);
  assert.equal(objs.length, 1);
  const mem = objs[0]!;
  assert.equal(mem.head, "memory-backend-file");
  assert.equal(mem.props.get("id"), "mem");
  assert.equal(mem.props.get("share"), "on");
  assert.equal(mem.props.get("size"), "2048M");
  assert.equal(mem.props.get("mem-path"), "/dev/hugepages");
  assert.equal(mem.props.get("prealloc"), "on");
  assert.deepEqual(valuesOf(argv, "-m"), ["2048M"]);
  assert.deepEqual(valuesOf(argv, "-numa"), ["node,memdev=mem"]);
  const noPrealloc = parseOpts(valuesOf(buildQemuArgv(localVm({ prealloc: false })), "-object")[0]!);
  assert.equal(noPrealloc.props.has("prealloc"), false);
});

test("no default devices, no display, never -nographic", () => {
  const argv = buildQemuArgv(localVm());
  assert.ok(argv.includes("-nodefaults"));
  assert.deepEqual(valuesOf(argv, "-display"), ["none"]);
  assert.ok(!argv.includes("-nographic"));
});

test("disk: the overlay as qcow2 on virtio-blk with cache=unsafe", () => {
  const d = parseOpts(valuesOf(buildQemuArgv(localVm()), "-drive")[0]!);
  assert.equal(d.props.get("file"), "/run/vhost-perf-lab/vm1/vm1-overlay.qcow2");
  assert.equal(d.props.get("format"), "qcow2");
  assert.equal(d.props.get("if"), "virtio");
  assert.equal(d.props.get("cache"), "unsafe");
});

test("rx_queue_size=1024 and tx_queue_size=1024 on every virtio-net device by default", () => {
  const nets = virtioNets(buildQemuArgv(localVm()));
  assert.equal(nets.length, 2);
  for (const n of nets) {
    assert.equal(n.props.get("rx_queue_size"), "1024");
    assert.equal(n.props.get("tx_queue_size"), "1024");
  }
  const spec = localVm();
  spec.vhostUser[1]!.queueSize = 256;
  const sized = virtioNets(buildQemuArgv(spec));
  assert.equal(sized[0]!.props.get("rx_queue_size"), "1024");
  assert.equal(sized[1]!.props.get("rx_queue_size"), "256");
  assert.equal(sized[1]!.props.get("tx_queue_size"), "256");
});

test("virtio-net devices: CSIT's offloads off, MACs 52:54:00:00:<vm>:<n>, ids wired chardev -> netdev -> device", () => {
  const argv = buildQemuArgv(localVm({ index: 10 }));
  const nets = virtioNets(argv);
  assert.deepEqual(
    nets.map((n) => n.props.get("mac")),
    ["52:54:00:00:0a:01", "52:54:00:00:0a:02"],
  );
  for (const n of nets)
    for (const k of ["csum", "gso", "guest_tso4", "guest_tso6", "guest_ecn"])
      assert.equal(n.props.get(k), "off", k);
  const chardevs = valuesOf(argv, "-chardev").map(parseOpts);
  const netdevs = valuesOf(argv, "-netdev").map(parseOpts);
  nets.forEach((n, i) => {
    const k = i + 1;
    assert.equal(n.props.get("id"), `nic${k}`);
    assert.equal(n.props.get("netdev"), `vhost${k}`);
    const nd = netdevs.find((x) => x.props.get("id") === `vhost${k}`)!;
    assert.equal(nd.head, "vhost-user");
    assert.equal(nd.props.get("chardev"), `char${k}`);
    assert.equal(nd.props.get("queues"), "1");
    const cd = chardevs.find((x) => x.props.get("id") === `char${k}`)!;
    assert.equal(cd.head, "socket");
    assert.equal(cd.props.get("path"), `/run/vhost-perf-lab/vhu-1-${k}.sock`);
    assert.equal(cd.props.get("server"), "on", "QEMU is the server, the vswitch the client");
    assert.equal(cd.props.get("wait"), "off");
  });
});

test("vectors=0 only when msix is false; mq=on,vectors=2q+2 for multi-queue", () => {
  const spec = localVm({
    vhostUser: [
      { socketPath: "/run/a.sock" },
      { socketPath: "/run/b.sock", msix: false },
      { socketPath: "/run/c.sock", queues: 4 },
      { socketPath: "/run/d.sock", queues: 2, msix: false },
    ],
  });
  const nets = virtioNets(buildQemuArgv(spec));
  assert.equal(nets[0]!.props.has("vectors"), false);
  assert.equal(nets[0]!.props.has("mq"), false);
  assert.equal(nets[1]!.props.get("vectors"), "0");
  assert.equal(nets[2]!.props.get("mq"), "on");
  assert.equal(nets[2]!.props.get("vectors"), "10");
  assert.equal(nets[3]!.props.get("mq"), "on");
  assert.equal(nets[3]!.props.get("vectors"), "0");
  const netdevs = valuesOf(buildQemuArgv(spec), "-netdev").map(parseOpts);
  assert.equal(netdevs.find((n) => n.props.get("id") === "vhost3")!.props.get("queues"), "4");
  const allMsix = virtioNets(buildQemuArgv(localVm()));
  assert.ok(allMsix.every((n) => n.props.get("vectors") !== "0"));
});

test("serial order: ttyS0 = console socket with logfile, ttyS1 = guest agent socket", () => {
  const argv = buildQemuArgv(localVm());
  assert.deepEqual(valuesOf(argv, "-serial"), ["chardev:console", "chardev:qga"]);
  const chardevs = valuesOf(argv, "-chardev").map(parseOpts);
  const con = chardevs.find((c) => c.props.get("id") === "console")!;
  assert.equal(con.props.get("path"), "/run/vhost-perf-lab/vm1/vm1-console.sock");
  assert.equal(con.props.get("logfile"), "/run/vhost-perf-lab/vm1/vm1-console.log");
  const qga = chardevs.find((c) => c.props.get("id") === "qga")!;
  assert.equal(qga.props.get("path"), "/run/vhost-perf-lab/vm1/vm1-qga.sock");
  assert.equal(qga.props.get("server"), "on");
  // the console chardev is defined before its -serial, and the console serial comes first
  assert.ok(argv.indexOf("chardev:console") < argv.indexOf("chardev:qga"));
});

test("control: QMP monitor on a unix socket, -daemonize, -pidfile in runDir", () => {
  const argv = buildQemuArgv(localVm());
  assert.deepEqual(valuesOf(argv, "-mon"), ["chardev=qmp,mode=control"]);
  const qmp = valuesOf(argv, "-chardev")
    .map(parseOpts)
    .find((c) => c.props.get("id") === "qmp")!;
  assert.equal(qmp.props.get("path"), "/run/vhost-perf-lab/vm1/vm1-qmp.sock");
  assert.ok(argv.includes("-daemonize"));
  assert.deepEqual(valuesOf(argv, "-pidfile"), ["/run/vhost-perf-lab/vm1/vm1.pid"]);
});

test("management NIC: e1000 on user net, ssh forwarded from 127.0.0.1 only when a port is given", () => {
  const argv = buildQemuArgv(localVm());
  const dev = devices(argv).find((d) => d.head === "e1000")!;
  assert.equal(dev.props.get("netdev"), "mgmt");
  assert.equal(dev.props.get("mac"), "52:54:00:00:01:ff");
  assert.ok(valuesOf(argv, "-netdev").includes("user,id=mgmt,hostfwd=tcp:127.0.0.1:10022-:22"));
  const noFwd = buildQemuArgv(localVm({ mgmt: {} }));
  assert.ok(valuesOf(noFwd, "-netdev").includes("user,id=mgmt"));
});

test("commas in paths are doubled inside option strings", () => {
  const argv = buildQemuArgv(
    localVm({ diskImage: "/var/lib/vm/a,b.qcow2", vhostUser: [{ socketPath: "/run/x,y.sock" }] }),
  );
  assert.ok(valuesOf(argv, "-drive")[0]!.startsWith("file=/var/lib/vm/a,,b.qcow2,"));
  const cd = valuesOf(argv, "-chardev").map(parseOpts);
  assert.ok(cd.some((c) => c.props.get("path") === "/run/x,y.sock"));
});

test("groups come in the documented order; extraArgs last, verbatim", () => {
  const groups = qemuArgGroups(localVm({ extraArgs: ["-msg", "timestamp=on"] }));
  assert.deepEqual(
    groups.map((g) => g.name),
    [...ARG_GROUPS],
  );
  const argv = buildQemuArgv(localVm({ extraArgs: ["-msg", "timestamp=on"] }));
  assert.deepEqual(argv.slice(-2), ["-msg", "timestamp=on"]);
});

test("formatQemuCommand prints one option per line for people", () => {
  const text = formatQemuCommand(localVm());
  assert.match(text, /^\/opt\/vhost-perf-lab\/qemu\/7\.2-patched\/bin\/qemu-system-x86_64 \\\n/);
  assert.match(text, /\n {2}-name vm1,debug-threads=on \\\n/);
  assert.match(text, /\n {2}-pidfile \/run\/vhost-perf-lab\/vm1\/vm1\.pid$/);
});
