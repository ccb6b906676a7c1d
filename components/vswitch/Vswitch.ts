import * as pulumi from "@pulumi/pulumi";
import type { Vswitch as VswitchConfig } from "../../lib/lab";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";

export interface VswitchArgs {
  connection: pulumi.Input<Connection>;
  config: VswitchConfig;
  mainCore: number;
  workerCores: number[];
  /** host-side af_packet interfaces toward the TG (local lab) */
  tgIfaces: string[];
  /** vhost-user sockets, two per VM, in VM order (QEMU is the server, the vswitch the client) */
  vhostSockets: string[];
  queues: number;
  /** hugetlbfs mount for its memory */
  hugepagesMount: pulumi.Input<string>;
  /** tokens of the steps it builds on (hugepages, TG ports): a replaced one restarts it */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** What `vswitch-testpmd.sh start|status` reports. */
export interface VswitchStatus {
  pid: number;
  workerTids?: number[];
  [k: string]: unknown;
}

/**
 * The DUT's vswitch. Today: DPDK testpmd as an L2 cross-connect (CSIT's l2xcbase) between
 * af_packet ports toward the local TG and vhost-user client ports toward the VMs
 * (scripts/vswitch-testpmd.sh). VPP and OVS-DPDK are described by the lab model but not
 * deployable yet.
 */
export class Vswitch extends pulumi.ComponentResource {
  readonly status: pulumi.Output<VswitchStatus>;
  readonly prefix: string;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: VswitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:vswitch:Vswitch", name, {}, opts);
    if (args.config.kind !== "testpmd") {
      throw new pulumi.RunError(
        `vhost-perf-lab:vswitch.kind ${args.config.kind} is not deployable yet; fix: use kind testpmd (VPP and OVS-DPDK are planned)`,
      );
    }
    if (args.tgIfaces.length !== 2) {
      throw new pulumi.RunError(
        `vhost-perf-lab:hosts[].nics: the testpmd vswitch needs two TG-facing ports, found ${args.tgIfaces.length}`,
      );
    }
    const o = args.config.options;
    // the DPDK file-prefix carries the stack: two stacks on one host never share runtime files
    this.prefix = `vpl-${pulumi.getStack()}-${name}`;
    const cmd = hostScript(
      `${name}-testpmd`,
      {
        connection: args.connection,
        up: { script: "vswitch-testpmd.sh", args: ["start"] },
        down: { script: "vswitch-testpmd.sh", args: ["stop"] },
        files: ["scripts/dpdk_telemetry.py"],
        fileEnv: { VSWITCH_TELEMETRY_CLIENT: "scripts/dpdk_telemetry.py" },
        environment: {
          VSWITCH_PREFIX: this.prefix,
          VSWITCH_MAIN_CORE: String(args.mainCore),
          VSWITCH_WORKER_CORES: args.workerCores.join(","),
          VSWITCH_AF_IFACES: args.tgIfaces.join(","),
          VSWITCH_VHOST_SOCKETS: args.vhostSockets.length > 0 ? args.vhostSockets.join(",") : "none",
          VSWITCH_VHOST_QUEUES: String(args.queues),
          VSWITCH_MEM_MB: String(args.config.memoryMiB),
          VSWITCH_MBUFS: String(o.mbufs),
          VSWITCH_RXD: String(o.rxd),
          VSWITCH_TXD: String(o.txd),
          VSWITCH_BURST: String(o.burst),
          VSWITCH_FWD_MODE: o.forwardMode,
          VSWITCH_KEEP_LOG: "0",
          VSWITCH_HUGE_DIR: args.hugepagesMount,
        },
        after: args.after,
        // the pid the script reported: a vswitch that died (or a reboot) is gone
        probe: { kind: "boot" },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.status = lastJson<VswitchStatus>(cmd.stdout);
    this.ready = cmd;
    this.token = stepToken(cmd);
    this.registerOutputs({ status: this.status, prefix: this.prefix });
  }
}
