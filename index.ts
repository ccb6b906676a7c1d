// vhost-perf-lab: read the lab described by this stack's config, then for every DUT host:
// connect, gather facts and tune it, build QEMU from source, deploy the VM image, start the
// vswitch and the vhost-user VMs; then run the benchmark matrix and export its results.
import * as pulumi from "@pulumi/pulumi";
import { duts } from "./lib/lab";
import { loadLab } from "./components/shared/loadLab";
import { LocalSshd } from "./components/ssh/LocalSshd";
import { configuredConnection } from "./components/ssh/connection";
import { DutHost } from "./components/dut/DutHost";

const lab = loadLab();

const dutHosts = duts(lab).map((host) => {
  const connection = host.ssh.managed
    ? new LocalSshd(`${host.name}-ssh`, { port: host.ssh.port, user: host.ssh.user }).connection
    : configuredConnection(host);
  return new DutHost(host.name, { host, tuning: lab.tuning, accel: lab.qemu.accel, connection });
});

export const labName = lab.name;
export const hosts = pulumi.all(
  dutHosts.map((d) =>
    pulumi.all([d.facts, d.accel, d.hugepages]).apply(([facts, accel, hugepages]) => ({
      name: d.name,
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
