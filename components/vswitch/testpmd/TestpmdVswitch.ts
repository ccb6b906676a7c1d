import * as pulumi from "@pulumi/pulumi";
import { vswitchFrameSizes } from "../../../lib/lab/frames";
import { hostScript, lastJson, stepToken } from "../../shared/hostScript";
import type { VswitchArgs, VswitchBenchHooks, VswitchDeployment, VswitchStatus } from "../kind";

/**
 * DPDK testpmd as the DUT's vswitch: an L2 cross-connect (CSIT's l2xcbase) between af_packet
 * ports toward the local TG and vhost-user client ports toward the VMs
 * (scripts/vswitch-testpmd.sh). Local lab only: af_packet NIC ports.
 */
export class TestpmdVswitch extends pulumi.ComponentResource implements VswitchDeployment {
  readonly status: pulumi.Output<VswitchStatus>;
  readonly prefix: string;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;
  readonly bench: VswitchBenchHooks;

  constructor(name: string, args: VswitchArgs, opts?: pulumi.ComponentResourceOptions) {
    // alias: the component was vhost-perf-lab:vswitch:Vswitch before the seam; a live stack keeps it
    super(
      "vhost-perf-lab:vswitch:TestpmdVswitch",
      name,
      {},
      {
        ...opts,
        aliases: [{ type: "vhost-perf-lab:vswitch:Vswitch" }, ...(opts?.aliases ?? [])],
      },
    );
    if (args.config.kind !== "testpmd") throw new Error(`TestpmdVswitch: kind ${args.config.kind}`);
    const afIfaces = args.nicPorts.flatMap((p) => (p.kind === "af_packet" ? [p.ifname] : []));
    if (args.nicPorts.length !== 2 || afIfaces.length !== 2) {
      throw new pulumi.RunError(
        `vhost-perf-lab:hosts[].nics: the testpmd vswitch needs two af_packet (veth) TG-facing ports, found ${args.nicPorts.length} port(s), ${afIfaces.length} af_packet; fix: use vswitch.kind ovs-dpdk or vpp for PCI NICs`,
      );
    }
    const o = args.config.options;
    // the DPDK file-prefix carries the stack: two stacks on one host never share runtime files
    this.prefix = `vpl-${pulumi.getStack()}-${name}`;
    // af_packet ring frames and mbufs sized for the largest frame; only set for jumbo frames, so
    // a lab of standard frames keeps the step inputs (and its running vswitch) it had
    const sizes = vswitchFrameSizes(args.maxFrame);
    const frameEnv: Record<string, string> =
      sizes.mbufSize === undefined
        ? {}
        : {
            VSWITCH_MAX_FRAME: String(sizes.maxFrame),
            VSWITCH_AF_FRAMESZ: String(sizes.afFramesz),
            VSWITCH_AF_BLOCKSZ: String(sizes.afBlocksz),
            VSWITCH_AF_FRAMECNT: String(sizes.afFramecnt),
            VSWITCH_MBUF_SIZE: String(sizes.mbufSize),
          };
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
          VSWITCH_AF_IFACES: afIfaces.join(","),
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
          ...frameEnv,
        },
        after: args.after,
        // the pid the script reported: a vswitch that died (or a reboot) is gone
        probe: { kind: "boot" },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    // the script's line has no kind: it is added here
    this.status = lastJson<VswitchStatus>(cmd.stdout).apply((s): VswitchStatus => ({
      ...s,
      kind: "testpmd",
    }));
    this.ready = cmd;
    this.token = stepToken(cmd);
    this.bench = {
      workerThreadPattern: "^rte-worker-",
      counters: { kind: "dpdk-telemetry", prefix: this.prefix },
    };
    this.registerOutputs({ status: this.status, prefix: this.prefix });
  }
}
