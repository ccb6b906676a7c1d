import * as pulumi from "@pulumi/pulumi";
import type { VppOptions } from "../../../lib/lab";
import { vppWiring, wiringScript } from "../../../lib/vswitch/vpp/commands";
import { VPP_WORKER_COMM } from "../../../lib/vswitch/vpp/parsers";
import { vppCliSocket, vppStartupConf } from "../../../lib/vswitch/vpp/startupConf";
import { hostScript, lastJson, stepToken } from "../../shared/hostScript";
import type { VswitchArgs, VswitchBenchHooks, VswitchDeployment, VswitchStatus } from "../kind";

/** VppVswitch's own extras beside the seam's VswitchArgs. */
export interface VppVswitchArgs extends VswitchArgs {
  /** the stack (run dir, API prefix); default pulumi.getStack() */
  stack?: string;
  /** move the PCI ports to options.uioDriver here (scripts/nic-bind.sh); false when done elsewhere. Default true */
  bindNics?: boolean;
}

const LIB = "scripts/lib/vpp-install.sh";
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** The vswitch's own directory on the DUT: the stack's run dir (step.sh's LAB_RUN_DIR) / <name>. */
export const vppDir = (stack: string, name: string): string => `/run/vhost-perf-lab/${stack}/${name}`;

/** The environment of the install step: the version and where VPP comes from. */
export function vppInstallEnv(o: VppOptions): Record<string, string> {
  const i = o.install;
  return {
    VPP_VERSION: o.version,
    VPP_INSTALL: i.kind,
    ...(i.kind === "repository"
      ? {
          VPP_REPO_URL: i.url,
          VPP_REPO_SUITE: i.suite,
          VPP_REPO_COMPONENT: i.component,
          VPP_KEY_URL: i.keyUrl,
          VPP_KEY_FPR: i.keyFingerprint,
        }
      : {}),
  };
}

/**
 * VPP as the DUT's vswitch (issue 11), one of the kinds behind components/vswitch/kind.ts. Three
 * probed steps over the DUT's connection, as components/tg/TrexServer.ts has them: the PCI ports
 * bound to the driver VPP's dpdk section names (scripts/nic-bind.sh, originals restored on
 * destroy), VPP installed from FD.io's repository or the preinstalled one checked
 * (scripts/vswitch-vpp.sh install), then VPP started with the startup.conf this component
 * generates (lib/vswitch/vpp/startupConf.ts) in its own run directory and wired by vppctl
 * (lib/vswitch/vpp/commands.ts: vhost-user clients, l2 xconnect both ways, rx placement).
 * Worker TIDs and the vhost-user rings come back in the start step's JSON line; the bench reads
 * counters over the CLI socket (lib/vswitch/vpp/benchReader.ts).
 */
export class VppVswitch extends pulumi.ComponentResource implements VswitchDeployment {
  readonly status: pulumi.Output<VswitchStatus>;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;
  readonly bench: VswitchBenchHooks;
  readonly startupConf: string;
  readonly cliSocket: string;

  constructor(name: string, args: VppVswitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:vswitch:VppVswitch", name, {}, opts);
    const cfg = args.config;
    if (cfg.kind !== "vpp")
      throw new pulumi.RunError(`VppVswitch: vhost-perf-lab:vswitch.kind is ${cfg.kind}, not vpp`);
    const o = cfg.options;
    const pci = args.nicPorts.map((p, i) => {
      if (p.kind !== "pci")
        throw new pulumi.RunError(
          `vhost-perf-lab:hosts[].nics[${i}]: VPP takes PCI ports (dpdk dev), not the host interface ${p.ifname}; fix: use testpmd or ovs-dpdk on veth ports`,
        );
      return p.pciAddress;
    });
    const stack = args.stack ?? pulumi.getStack();
    const dir = vppDir(stack, name);
    const nicNames = pci.map((_, i) => `port${i}`);
    // everything VPP is given is computed here, at preview: a misfit fails before any host is touched
    this.startupConf = vppStartupConf({
      dir,
      apiPrefix: `vpl-${stack}-${name}`,
      mainCore: args.mainCore,
      workerCores: args.workerCores,
      devices: pci.map((p, i) => ({ pci: p, name: nicNames[i]! })),
      rxQueues: o.rxQueues,
      buffers: o.buffers,
      uioDriver: o.uioDriver,
      noMultiSeg: o.noMultiSeg,
      version: o.version,
    });
    const wiring = wiringScript(
      vppWiring({
        nicNames,
        sockets: args.vhostSockets,
        nicRxQueues: o.rxQueues,
        vhostQueues: args.queues,
        workers: args.workerCores.length,
        mode: o.mode,
      }),
    );
    this.cliSocket = vppCliSocket(dir);

    const after = args.after ?? [];
    const deps: pulumi.Input<pulumi.Resource>[] = [...(args.dependsOn ?? [])];
    const tokens: pulumi.Input<string>[] = [];
    if (args.bindNics ?? true) {
      const nics = hostScript(
        `${name}-vpp-nics`,
        {
          connection: args.connection,
          up: { script: "nic-bind.sh", args: ["up"] },
          down: { script: "nic-bind.sh", args: ["down"] },
          environment: { NIC_BIND: pci.map((p) => `${p}=${o.uioDriver}`).join(",") },
          after,
          probe: { kind: "boot", status: { script: "nic-bind.sh", args: ["status"] } },
        },
        { parent: this, dependsOn: args.dependsOn },
      );
      tokens.push(stepToken(nics));
      deps.push(nics);
    }
    const install = hostScript(
      `${name}-vpp-install`,
      {
        connection: args.connection,
        up: { script: "vswitch-vpp.sh", args: ["install"] },
        down: { script: "vswitch-vpp.sh", args: ["uninstall"] },
        environment: vppInstallEnv(o),
        files: [LIB],
        after,
        probe: { kind: "persistent", status: { script: "vswitch-vpp.sh", args: ["install-status"] } },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    tokens.push(stepToken(install));
    deps.push(install);

    const server = hostScript(
      `${name}-vpp`,
      {
        connection: args.connection,
        up: { script: "vswitch-vpp.sh", args: ["start"] },
        down: { script: "vswitch-vpp.sh", args: ["stop"] },
        environment: {
          VPP_VERSION: o.version,
          VPP_DIR: dir,
          VPP_API_PREFIX: `vpl-${stack}-${name}`,
          VPP_STARTUP_B64: b64(this.startupConf),
          VPP_WIRING_B64: b64(wiring),
        },
        files: [LIB],
        after: [...after, ...tokens],
        // the pid it reported, and `status` (the CLI answers): a VPP that died or a reboot is gone
        probe: { kind: "boot", status: { script: "vswitch-vpp.sh", args: ["status"] } },
      },
      { parent: this, dependsOn: deps },
    );
    this.status = lastJson<VswitchStatus>(server.stdout);
    this.ready = server;
    this.token = stepToken(server);
    this.bench = {
      workerThreadPattern: VPP_WORKER_COMM.source,
      counters: { kind: "vpp", cliSocket: this.cliSocket },
    };
    this.registerOutputs({ status: this.status, cliSocket: this.cliSocket });
  }
}
