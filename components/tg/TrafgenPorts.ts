import * as pulumi from "@pulumi/pulumi";
import { mgmtEnv, type MgmtCable, type VethNic } from "../../lib/lab";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";

export interface TrafgenPortsArgs {
  connection: pulumi.Input<Connection>;
  /** the host's veth ports: host end for the vswitch, peer end in the TG's netns */
  ports: VethNic[];
  /** the management cable of a TG host living in the netns (its own sshd), when there is one */
  mgmt?: MgmtCable;
  /** tokens of the steps the wiring needs (the lab directories) */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * The local traffic generator's wiring (scripts/tg-netns.sh): a network namespace and one
 * veth pair per port ("cables"); trafgen sends and counts inside the namespace, the vswitch's
 * af_packet ports sit on the host ends. In the 2-node local lab the namespace is the TG host:
 * one more pair is its management cable, addressed, for its own sshd. Destroy removes exactly
 * these.
 */
export class TrafgenPorts extends pulumi.ComponentResource {
  readonly netns: string;
  readonly hostIfs: string[];
  readonly nsIfs: string[];
  readonly wiring: pulumi.Output<unknown>;
  readonly ready: pulumi.Resource;
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: TrafgenPortsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:tg:TrafgenPorts", name, {}, opts);
    const namespaces = [...new Set(args.ports.map((p) => p.netns))];
    if (namespaces.length !== 1 || args.ports.length !== 2) {
      throw new pulumi.RunError(
        `vhost-perf-lab:hosts[].nics: the local trafgen TG needs exactly two veth ports in one netns (found ${args.ports.length} in ${namespaces.join(", ") || "none"})`,
      );
    }
    this.netns = namespaces[0]!;
    this.hostIfs = args.ports.map((p) => p.ifname);
    this.nsIfs = args.ports.map((p) => p.peer);
    const cmd = hostScript(
      `${name}-netns`,
      {
        connection: args.connection,
        up: { script: "tg-netns.sh", args: ["setup"] },
        down: { script: "tg-netns.sh", args: ["teardown"] },
        environment: {
          TG_NETNS: this.netns,
          TG_HOST_IFS: this.hostIfs.join(","),
          TG_NS_IFS: this.nsIfs.join(","),
          TG_MTU: String(Math.max(...args.ports.map((p) => p.mtu))),
          ...(args.mgmt ? { TG_MGMT: mgmtEnv(args.mgmt) } : {}),
        },
        after: args.after,
        probe: { kind: "boot", status: { script: "tg-netns.sh", args: ["status"] } },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.wiring = lastJson(cmd.stdout);
    this.ready = cmd;
    this.token = stepToken(cmd);
    this.registerOutputs({ netns: this.netns, wiring: this.wiring });
  }
}
