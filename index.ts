// vhost-perf-lab: read the lab described by this stack's config, then for every DUT host:
// connect, gather facts and tune it, build QEMU from source, deploy the VM image, start the
// vswitch and the vhost-user VMs; then run the benchmark matrix and export its results.
import * as pulumi from "@pulumi/pulumi";
import {
  checkHostFacts,
  duts,
  formatErrors,
  matrixMaxFrame,
  mgmtCable,
  type PciNic,
  type VethNic,
} from "./lib/lab";
import { benchPlan, type SshEndpoint } from "./lib/plan/benchPlan";
import { withSetupFacts } from "./lib/results/setupFacts";
import { loadLab } from "./components/shared/loadLab";
import { LocalSshd } from "./components/ssh/LocalSshd";
import { hostScript, stepToken, type Connection } from "./components/shared/hostScript";
import { configuredConnection } from "./components/ssh/connection";
import { DutHost, labDirs } from "./components/dut/DutHost";
import { QemuBuild, qemuStackRoot } from "./components/qemu/QemuBuild";
import { VmImage } from "./components/image/VmImage";
import { TrafgenPorts } from "./components/tg/TrafgenPorts";
import { trexServerFor, type TrexServer } from "./components/tg/TrexServer";
import { deployVswitch } from "./components/vswitch";
import { deployVm } from "./components/vm";
import { Benchmark } from "./components/benchmark/Benchmark";

const stack = pulumi.getStack();
const sshEndpoint = (c: pulumi.Unwrap<Connection>): SshEndpoint => ({
  host: String(c.host),
  port: Number(c.port ?? 22),
  user: String(c.user ?? "root"),
  privateKey: String(c.privateKey ?? ""),
  hostKey: String(c.hostKey ?? ""),
});
const lab = loadLab();
// the VMs come up with the matrix's first vring size; the benchmark switches them to the others
const vringSize = lab.matrix.vringSizes[0]!;
// the TG host: the DUT itself, or a host of its own. trafgen: the 2-node local lab's network
// namespace with its own sshd, cabled to the DUT by veth pairs. TRex: a lab's TG server over its
// own connection, with the TRex server on it.
const tgHost = lab.hosts.find((h) => h.name === lab.tg.host)!;
const tgCable = lab.tg.kind === "trafgen" ? mgmtCable(tgHost) : undefined;
const tgConnection = lab.tg.kind === "trex" ? configuredConnection(tgHost) : undefined;
const trex = tgConnection ? trexTg(tgConnection) : undefined;
// what the runner needs of a TRex TG: the server's SSH endpoint and its RPC port
const trexEndpoint =
  trex && tgConnection
    ? pulumi.all([tgConnection, trex.rpcHost]).apply(([c, rpcHost]) => ({
        kind: "trex" as const,
        host: { name: tgHost.name, ssh: sshEndpoint(c) },
        rpcHost,
        rpcPort: trex.rpcPort,
      }))
    : undefined;

function trexTg(connection: pulumi.Output<Connection>): TrexServer {
  const dirs = hostScript(
    `${tgHost.name}-dirs`,
    {
      connection,
      up: { script: "lab-dirs.sh", args: ["up"] },
      down: { script: "lab-dirs.sh", args: ["down"] },
      environment: { LAB_DIRS: labDirs(stack).join(" ") },
      probe: { kind: "boot", status: { script: "lab-dirs.sh", args: ["status"] } },
    },
    {},
  );
  const tarball = lab.tg.kind === "trex" ? lab.tg.options.tarball : undefined;
  return trexServerFor(
    lab,
    connection,
    { ...(tarball ? { tarball } : {}), after: [stepToken(dirs)] },
    { dependsOn: [dirs] },
  );
}

const labs = duts(lab).map((host) => {
  const connection = host.ssh.managed
    ? new LocalSshd(`${host.name}-ssh`, { port: host.ssh.port, user: host.ssh.user }).connection
    : configuredConnection(host);

  // 1. the host: facts and tuning
  const dut = new DutHost(host.name, {
    host,
    tuning: lab.tuning,
    accel: lab.qemu.accel,
    connection,
    // CPUs, NUMA node, hugepage size, NIC PCI addresses and memory, before anything changes
    preflight: (f) => {
      const errors = checkHostFacts(host, lab, {
        cpusOnline: f.cpusOnlineList,
        numaNodes: f.numaNodeList,
        hugepageSizesKiB: f.hugepageSizesKiB,
        memTotalMiB: f.memTotalMiB,
        memAvailableMiB: f.memAvailableMiB,
        hugepagesFreeBySizeKiB: f.hugepagesFreeBySizeKiB,
        pciAddresses: f.pciAddresses,
      });
      return errors.length === 0 ? [] : [formatErrors(errors)];
    },
    dirs: [qemuStackRoot(lab.qemu.prefix, stack)],
  });
  // 2. QEMU from source, 3. the guest image (side by side)
  const qemu = new QemuBuild(`${host.name}-qemu`, {
    qemu: lab.qemu,
    connection,
    after: [dut.dirsToken],
    dependsOn: [dut.ready],
  });
  const image = new VmImage(`${host.name}-image`, {
    connection,
    image: lab.image,
    vms: lab.vms,
    after: [dut.dirsToken],
    dependsOn: [dut.ready],
  });

  // 4. the data path: TG ports (local lab), vswitch, then the VMs (QEMU serves the sockets)
  const veths = host.nics.filter((n): n is VethNic => n.kind === "veth");
  const pciNics = host.nics.filter((n): n is PciNic => n.kind === "pci");
  // the local lab: veth pairs to the TG host's netns; a lab: the DUT's PCI NICs, cabled to the TG server
  const tgPorts =
    veths.length > 0
      ? new TrafgenPorts(`${host.name}-tg`, {
          connection,
          ports: veths,
          ...(tgCable ? { mgmt: tgCable } : {}),
          after: [dut.dirsToken],
          dependsOn: [dut.ready],
        })
      : undefined;
  if (!tgPorts && !trex) {
    throw new pulumi.RunError(
      `vhost-perf-lab:hosts[${lab.hosts.indexOf(host)}].nics: trafgen needs veth ports on ${host.name}; fix: veth NICs (the local lab), or tg.kind trex for PCI NICs`,
    );
  }
  // the TG host's own connection: everything on the TG side (ports, trafgen, counters) uses it
  const tgSsh =
    tgCable && tgPorts
      ? new LocalSshd(`${tgHost.name}-ssh`, {
          port: tgHost.ssh.port,
          user: tgHost.ssh.user,
          netns: { name: tgCable.netns, address: tgHost.ssh.host },
          after: [tgPorts.token],
          dependsOn: [tgPorts.ready],
        })
      : undefined;
  const hugepagesMount = dut.hugepages.apply((h) => h.mount);
  const vswitch = deployVswitch(`${host.name}-vswitch`, {
    connection,
    config: lab.vswitch,
    mainCore: host.cpus.vswitchMain ?? host.cpus.housekeeping[0] ?? 0,
    workerCores: host.cpus.vswitch,
    nicPorts: tgPorts
      ? tgPorts.hostIfs.map((ifname) => ({ kind: "af_packet" as const, ifname }))
      : pciNics.map((n) => ({ kind: "pci" as const, pciAddress: n.pci })),
    vhostSockets: lab.vms.sockets.flat(),
    queues: lab.vms.queues,
    ringSize: vringSize,
    maxFrame: matrixMaxFrame(lab.matrix.frames),
    hugepagesMount,
    after: [dut.hugepagesToken, ...(tgPorts ? [tgPorts.token] : [dut.dirsToken])],
    // after the heavy steps: a busy-polling vswitch would take a core from the QEMU build
    dependsOn: [dut.ready, ...(tgPorts ? [tgPorts.ready] : []), qemu, image.ready],
  });
  const vms = Array.from({ length: lab.vms.count }, (_, index) =>
    deployVm(`${host.name}-vm${index + 1}`, {
      connection,
      host,
      vms: lab.vms,
      index,
      vringSize,
      vringSizes: lab.matrix.vringSizes,
      maxFrame: matrixMaxFrame(lab.matrix.frames),
      qemuBinary: qemu.binary,
      accel: dut.accel,
      baseImage: image.path,
      hugepagesMount,
      after: [dut.hugepagesToken, vswitch.token, qemu.token, image.token],
      dependsOn: [vswitch.ready, qemu, image.ready],
    }),
  );

  // 5. the benchmark matrix, after everything is up
  const plan = pulumi
    .all([
      pulumi.output(connection),
      vswitch.status,
      pulumi.all(vms.map((v) => v.status)),
      tgSsh ? tgSsh.connection : pulumi.output(undefined),
      trexEndpoint ?? pulumi.output(undefined),
      qemu.result,
      dut.accel,
    ])
    .apply(([c, sw, vmStatus, tc, trexEnd, q, accel]) =>
      withSetupFacts(
        benchPlan(lab, {
          stack,
          host,
          ssh: sshEndpoint(c),
          vswitchPid: sw.pid,
          vswitchBench: vswitch.bench,
          vmPids: vmStatus.map((s) => s.pid),
          // each VM's control kit: the runner proves every cell's vring size with it
          ...(vms.every((v) => v.ringControl)
            ? { vmRing: { controls: vms.map((v) => v.ringControl!), pidFiles: vms.map((v) => v.pidfile) } }
            : {}),
          // a lab's TG server: the runner drives TRex over its RPC port
          tg: trexEnd ?? {
            // a TG host of its own lives in the netns: its session is already there
            netns: tc ? "" : tgPorts!.netns,
            txIf: tgPorts!.nsIfs[0]!,
            rxIf: tgPorts!.nsIfs[1]!,
            directions: tc ? 2 : 1,
            ...(tc ? { host: { name: tgHost.name, ssh: sshEndpoint(tc) } } : {}),
          },
        }),
        {
          // the setup facts of the result store's cell keys (lib/results): kernel and cmdline are read by the runner
          qemu: { version: q.version, patches: q.patches },
          accel,
          vringSizes: vmStatus.map((s) => s.vringSizes ?? null),
          cpus: { ...host.cpus },
          vswitch: { kind: lab.vswitch.kind, options: { ...lab.vswitch.options } },
        },
      ),
    );
  const bench = new Benchmark(`${host.name}-bench`, {
    plan,
    connection,
    dependsOn: vms.map((v) => v.ready),
    // VPL_FRESH=1: measure every cell again (a repeat run), instead of reusing unchanged cells
    fresh: process.env.VPL_FRESH === "1",
  });
  return { host, dut, qemu, image, vms, bench };
});

export const labName = lab.name;
/** The HTML report of the last benchmark run (one file; `npm run report` rebuilds and compares). */
export const report = labs[0]?.bench.reportPath;
export const hosts = pulumi.all(
  labs.map(({ host, dut, qemu, image, vms }) =>
    pulumi
      .all([
        dut.facts,
        dut.accel,
        dut.hugepages,
        dut.tuning,
        qemu.result,
        image.sha256,
        pulumi.all(vms.map((v) => v.status)),
      ])
      .apply(([facts, accel, hugepages, tuning, q, imageSha256, vmStatus]) => ({
        name: host.name,
        kernel: facts.kernel,
        cpus: facts.cpus,
        memoryMiB: facts.memoryMiB,
        kvmUsable: facts.kvmUsable,
        kvmReason: facts.kvmReason,
        accel,
        hugepages,
        tuning,
        qemu: { binary: q.binary, version: q.version, patches: q.patches },
        image: { path: lab.image.path, sha256: imageSha256 },
        vms: vmStatus.map((s) => ({
          pid: s.pid,
          bootSeconds: s.bootSeconds,
          vringSizes: s.vringSizes,
          guestNics: s.guestNics,
        })),
      })),
  ),
);
/** One entry per matrix cell: MRR trials and NDR/PDR bounds, CSIT-style names. */
export const results = pulumi.all(labs.map((l) => l.bench.cells)).apply((all) => all.flat());
/** The throughput at a glance: test name -> received pps (MRR average) or NDR/PDR lower bounds. */
export const throughput = results.apply((cells) =>
  Object.fromEntries(
    cells.flatMap((c) => [
      ...(c.mrr ? [[c.mrr.testName, { mrrAvgPps: c.mrr.avgPps, mrrL1Bps: c.mrr.l1Bps }]] : []),
      ...(c.ndrpdr
        ? [
            [
              c.ndrpdr.testName,
              { ndrPps: c.ndrpdr.ndr?.lowerBoundPps ?? null, pdrPps: c.ndrpdr.pdr?.lowerBoundPps ?? null },
            ],
          ]
        : []),
    ]),
  ),
);
