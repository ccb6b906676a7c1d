import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { scriptText } from "../shared/scripts";
import { lastJson, type Connection } from "../shared/hostScript";

export interface LocalSshdArgs {
  /** loopback port */
  port: number;
  user: string;
  /** directory for keys, config and pidfile; default ~/.vhost-perf-lab/stacks/<stack>/sshd */
  stateDir?: string;
  /**
   * A host of its own: the sshd runs inside this network namespace and listens on `address`
   * (its end of the management cable, made by the wiring step in `after`).
   */
  netns?: { name: string; address: string };
  /** tokens of the steps it stands on (the wiring of its netns): replaced when they are */
  after?: pulumi.Input<string>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

interface SshdInfo {
  host: string;
  port: number;
  user: string;
  hostKey: string;
  privateKey: string;
}

/**
 * The local lab's own sshd (scripts/local-sshd.sh): on 127.0.0.1 for the DUT, or inside a network
 * namespace on its management address for a host of its own (the 2-node local lab's TG server).
 * Keys generated into the stack's state dir, host key pinned from the start, the system sshd
 * untouched. Everything after it reaches its host over SSH, exactly like a lab server.
 */
export class LocalSshd extends pulumi.ComponentResource {
  /** SSH connection to the lab sshd (secret: it holds the private key) */
  readonly connection: pulumi.Output<Connection>;
  readonly hostKey: pulumi.Output<string>;
  readonly stateDir: string;

  constructor(name: string, args: LocalSshdArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:ssh:LocalSshd", name, {}, opts);
    this.stateDir =
      args.stateDir ??
      path.join(
        os.homedir(),
        ".vhost-perf-lab",
        "stacks",
        pulumi.getStack(),
        args.netns ? `sshd-${args.netns.name}` : "sshd",
      );
    const sshd = new command.local.Command(
      `${name}-sshd`,
      {
        create: "bash -s -- up",
        update: "bash -s -- up",
        delete: "bash -s -- down",
        stdin: scriptText("local-sshd.sh"),
        environment: {
          LAB_SSHD_DIR: this.stateDir,
          LAB_SSHD_PORT: String(args.port),
          LAB_SSHD_USER: args.user,
          ...(args.netns ? { LAB_SSHD_NETNS: args.netns.name, LAB_SSHD_ADDR: args.netns.address } : {}),
          // refresh (and every up) asks whether the sshd still runs: exit 3 = gone, start it again
          PULUMI_COMMAND_READ: "bash -s -- probe",
        },
        // another port, user, directory or namespace is another sshd: the old one is stopped first
        triggers: [
          args.port,
          args.user,
          this.stateDir,
          args.netns?.name ?? "",
          args.netns?.address ?? "",
          ...(args.after ?? []),
        ],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        parent: this,
        additionalSecretOutputs: ["stdout"],
        deleteBeforeReplace: true,
        ...(args.dependsOn ? { dependsOn: args.dependsOn } : {}),
      },
    );
    const info = pulumi.secret(lastJson<SshdInfo>(sshd.stdout));
    this.hostKey = pulumi.unsecret(info.apply((i) => i.hostKey));
    this.connection = info.apply((i) => ({
      host: i.host,
      port: i.port,
      user: i.user,
      privateKey: i.privateKey,
      hostKey: i.hostKey,
      dialErrorLimit: 20,
      perDialTimeout: 10,
    }));
    this.registerOutputs({ hostKey: this.hostKey, stateDir: this.stateDir });
  }
}
