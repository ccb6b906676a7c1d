// vhost-perf-lab: read the lab described by this stack's config, then for every DUT host:
// connect, gather facts and tune it, build QEMU from source, deploy the VM image, start the
// vswitch and the vhost-user VMs; then run the benchmark matrix and export its results.
import * as pulumi from "@pulumi/pulumi";
import { duts } from "./lib/lab";
import { loadLab } from "./components/shared/loadLab";
import { LocalSshd } from "./components/ssh/LocalSshd";
import { configuredConnection } from "./components/ssh/connection";
import { DutHost } from "./components/dut/DutHost";
import { QemuBuild } from "./components/qemu/QemuBuild";

const lab = loadLab();

const dutHosts = duts(lab).map((host) => {
  const connection = host.ssh.managed
    ? new LocalSshd(`${host.name}-ssh`, { port: host.ssh.port, user: host.ssh.user }).connection
    : configuredConnection(host);
  const dut = new DutHost(host.name, { host, tuning: lab.tuning, accel: lab.qemu.accel, connection });
  const qemu = new QemuBuild(`${host.name}-qemu`, { qemu: lab.qemu, connection, dependsOn: [dut.ready] });
  return { dut, qemu };
});

export const labName = lab.name;
export const hosts = pulumi.all(
  dutHosts.map(({ dut: d, qemu }) =>
    pulumi.all([d.facts, d.accel, d.hugepages, qemu.result]).apply(([facts, accel, hugepages, q]) => ({
      name: d.name,
      qemu: { binary: q.binary, version: q.version, patches: q.patches, built: q.built, seconds: q.seconds },
      kernel: facts.kernel,
      cpus: facts.cpus,
      memoryMiB: facts.memoryMiB,
      kvmUsable: facts.kvmUsable,
      kvmReason: facts.kvmReason,
      accel,
      hugepages,
    })),
  ),
);
