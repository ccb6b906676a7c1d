import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as path from "node:path";
import type { KernelPlan } from "../../lib/plan/kernelArgs";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";
import { contentHash, repoRoot, scriptText } from "../shared/scripts";
import { shellQuote } from "../shared/shell";

export interface KernelCmdlineArgs {
  /** the host's name in the lab model (messages) */
  hostName: string;
  connection: pulumi.Input<Connection>;
  plan: KernelPlan;
  reboot: { allowed: boolean; timeoutS: number };
  /** resources the first step waits for (the host's facts) */
  dependsOn?: pulumi.Resource[];
}

/** What scripts/kernel-reboot.sh reports. */
export interface RebootReport {
  action: string;
  rebooted: boolean;
  cmdline: string;
  isolated: string;
  bootId: string;
  waitedS: number;
}

/**
 * The DUT's kernel command line in three steps, in the project's step model:
 *  1. `<name>-kernel-boot` (local command): records the running command line before the lab
 *     touches it; its delete, which runs LAST on destroy (after the drop-in is gone), reboots
 *     when allowed and checks that the lab's arguments are gone
 *  2. `<name>-kernel-args` (host step, scripts/dut-kernel-args.sh): the grub drop-in and
 *     update-grub, recorded and reverted on the host
 *  3. `<name>-kernel-reboot` (local command): reboots when the running kernel lacks an argument
 *     (and it is allowed), waits for SSH within the timeout, checks /proc/cmdline and the
 *     isolated CPUs; replaced whenever step 2 is
 * The reboot and the wait run on the machine that runs Pulumi: a host step cannot outlive its
 * own host's reboot (its SSH session dies with it).
 */
export class KernelCmdline extends pulumi.ComponentResource {
  readonly applied: pulumi.Output<Record<string, unknown>>;
  readonly verified: pulumi.Output<RebootReport>;
  /** the last step: everything that needs the new kernel builds on it */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: KernelCmdlineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:dut:KernelCmdline", name, {}, opts);
    const script = path.join(repoRoot(), "scripts", "kernel-reboot.sh");
    const conn = pulumi.output(args.connection);
    // host, port and user are not secret (the connection as a whole is): plain, so progress
    // lines name the host
    const environment = pulumi.unsecret(
      conn.apply((c) => ({
        DUT_NAME: args.hostName,
        DUT_HOST: String(c.host),
        DUT_PORT: String(c.port ?? 22),
        DUT_USER: String(c.user ?? "root"),
        KARGS: args.plan.args.join(" "),
        KARGS_ISOLATED: args.plan.isolated,
        REBOOT_ALLOWED: args.reboot.allowed ? "1" : "0",
        REBOOT_TIMEOUT_S: String(args.reboot.timeoutS),
      })),
    );
    // the key and the pinned host key on stdin (a secret), never in argv or the environment
    const stdin = pulumi.secret(
      conn.apply((c) => {
        const key = c.privateKey as string | undefined;
        if (!key || !c.hostKey)
          throw new Error(
            `host ${args.hostName}: the kernel command line needs key authentication and a pinned host key (hosts[].ssh.privateKey, hosts[].ssh.hostKey)`,
          );
        return `${Buffer.from(key, "utf8").toString("base64")}\n${String(c.hostKey)}\n`;
      }),
    );
    const run = (mode: string): string => `bash ${shellQuote(script)} ${mode}`;
    const scriptHash = contentHash(scriptText("kernel-reboot.sh"));

    const boot = new command.local.Command(
      `${name}-kernel-boot`,
      {
        create: run("record"),
        // an update keeps the recorded original (the running line may carry the lab's by now)
        update: 'printf "%s\\n" "$PULUMI_COMMAND_STDOUT"',
        delete: run("revert"),
        environment,
        stdin,
        addPreviousOutputInEnv: true,
        logging: "stderr",
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    const apply = hostScript(
      `${name}-kernel-args`,
      {
        connection: args.connection,
        up: { script: "dut-kernel-args.sh", args: ["apply"] },
        down: { script: "dut-kernel-args.sh", args: ["revert"] },
        environment: { KARGS: args.plan.args.join(" ") },
        files: ["scripts/lib/tuning-common.sh"],
        probe: { kind: "persistent" },
      },
      { parent: this, dependsOn: [boot] },
    );
    this.applied = lastJson<Record<string, unknown>>(apply.stdout);
    const reboot = new command.local.Command(
      `${name}-kernel-reboot`,
      {
        create: run("apply"),
        environment,
        stdin,
        addPreviousOutputInEnv: false,
        logging: "stderr",
        triggers: [stepToken(apply), scriptHash],
      },
      { parent: this, dependsOn: [apply], deleteBeforeReplace: true },
    );
    this.verified = lastJson<RebootReport>(reboot.stdout);
    this.ready = reboot;
    this.registerOutputs({ applied: this.applied, verified: this.verified });
  }
}
