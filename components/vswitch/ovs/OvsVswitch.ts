import * as pulumi from "@pulumi/pulumi";
import { hostScript, lastJson, stepToken } from "../../shared/hostScript";
import { ovsNames } from "../../../lib/vswitch/ovs/names";
import type { VswitchArgs, VswitchBenchHooks, VswitchDeployment, VswitchStatus } from "../kind";

/**
 * OVS-DPDK (Debian's openvswitch-switch-dpdk) as the DUT's vswitch (scripts/vswitch-ovs.sh):
 * ovsdb-server and ovs-vswitchd-dpdk in the stack's own run dir, a netdev bridge, NIC ports
 * (af_packet vdevs on the local veths, PCI NICs on labs), dpdkvhostuserclient ports toward the
 * VMs' sockets (QEMU is the server), two OpenFlow rules per pair; PMD threads on the worker cores.
 */
export class OvsVswitch extends pulumi.ComponentResource implements VswitchDeployment {
  readonly status: pulumi.Output<VswitchStatus>;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;
  readonly bench: VswitchBenchHooks;

  constructor(name: string, args: VswitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:vswitch:OvsVswitch", name, {}, opts);
    if (args.config.kind !== "ovs-dpdk") throw new Error(`OvsVswitch: kind ${args.config.kind}`);
    if (args.nicPorts.length === 0) {
      throw new pulumi.RunError(
        `vhost-perf-lab:hosts[].nics: the OVS-DPDK vswitch needs NIC ports, found none`,
      );
    }
    // two NIC ports: any number of VMs, chained (scripts/lib/ovs-common.sh flow_rules);
    // otherwise NIC port i <-> vhost socket i
    const chain = args.nicPorts.length === 2 && args.vhostSockets.length % 2 === 0;
    if (args.vhostSockets.length > 0 && !chain && args.vhostSockets.length !== args.nicPorts.length) {
      throw new pulumi.RunError(
        `vhost-perf-lab:vms: OVS-DPDK chains the VMs between two NIC ports, or cross-connects NIC port i with vhost socket i: ${args.nicPorts.length} NIC port(s), ${args.vhostSockets.length} socket(s); fix: two NIC ports, or one VM (two sockets) per two NIC ports`,
      );
    }
    const names = ovsNames(pulumi.getStack(), name);
    const cmd = hostScript(
      `${name}-ovs`,
      {
        connection: args.connection,
        up: { script: "vswitch-ovs.sh", args: ["start"] },
        down: { script: "vswitch-ovs.sh", args: ["stop"] },
        files: ["scripts/lib/ovs-common.sh"],
        environment: {
          VSWITCH_PREFIX: names.prefix,
          VSWITCH_RUN_DIR: names.runDir,
          VSWITCH_BRIDGE: names.bridge,
          VSWITCH_MAIN_CORE: String(args.mainCore),
          VSWITCH_WORKER_CORES: args.workerCores.join(","),
          VSWITCH_NIC_PORTS: args.nicPorts
            .map((p) => (p.kind === "af_packet" ? `af_packet:${p.ifname}` : `pci:${p.pciAddress}`))
            .join(","),
          VSWITCH_VHOST_SOCKETS: args.vhostSockets.length > 0 ? args.vhostSockets.join(",") : "none",
          VSWITCH_RX_QUEUES: String(args.config.options.rxQueues),
          VSWITCH_MEM_MB: String(args.config.memoryMiB),
          VSWITCH_HUGE_DIR: args.hugepagesMount,
        },
        after: args.after,
        // the pid it reported (ovs-vswitchd), and `status` exits 3 when either daemon is gone
        probe: { kind: "boot", status: { script: "vswitch-ovs.sh", args: ["status"] } },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.status = lastJson<VswitchStatus>(cmd.stdout);
    this.ready = cmd;
    this.token = stepToken(cmd);
    this.bench = {
      // ovs-vswitchd names its PMD threads pmd-c<core>/id:<n> (seen with ps -T here)
      workerThreadPattern: "^pmd-c\\d+/id:\\d+$",
      counters: { kind: "ovs", runDir: names.runDir, bridge: names.bridge },
    };
    this.registerOutputs({ status: this.status });
  }
}
