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
}

interface SshdInfo {
  host: string;
  port: number;
  user: string;
  hostKey: string;
  privateKey: string;
}

/**
 * The local lab's own sshd on 127.0.0.1 (scripts/local-sshd.sh): keys generated into the
 * stack's state dir, host key pinned from the start, the system sshd untouched. Everything
 * after it reaches this machine over SSH, exactly like a remote DUT.
 */
export class LocalSshd extends pulumi.ComponentResource {
  /** SSH connection to the lab sshd (secret: it holds the private key) */
  readonly connection: pulumi.Output<Connection>;
  readonly hostKey: pulumi.Output<string>;
  readonly stateDir: string;

  constructor(name: string, args: LocalSshdArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:ssh:LocalSshd", name, {}, opts);
    this.stateDir =
      args.stateDir ?? path.join(os.homedir(), ".vhost-perf-lab", "stacks", pulumi.getStack(), "sshd");
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
          // refresh (and every up) asks whether the sshd still runs: exit 3 = gone, start it again
          PULUMI_COMMAND_READ: "bash -s -- probe",
        },
        // another port, user or directory is another sshd: the old one is stopped first
        triggers: [args.port, args.user, this.stateDir],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      { parent: this, additionalSecretOutputs: ["stdout"], deleteBeforeReplace: true },
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
