import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import type { Host, Tuning, Accel } from "../../lib/lab";
import { planTuning, sysctlScriptInput } from "../../lib/plan/tuning";
import { planKernelArgs } from "../../lib/plan/kernelArgs";
import { KernelCmdline, type RebootReport } from "./KernelCmdline";
import { hostScript, lastJson, stepToken, type Connection } from "../shared/hostScript";

/** What scripts/dut-facts.sh reports. */
export interface DutFacts {
  hostname: string;
  kernel: string;
  cpus: number;
  cpusOnline: string;
  numaNodes: string;
  memoryMiB: number;
  hugepages: Record<string, { total: number; free: number }>;
  hugetlbfsMounts: string[];
  kvmUsable: boolean;
  kvmReason: string;
  systemd: boolean;
  cmdline: string;
  cpusOnlineList: number[];
  numaNodeList: number[];
  hugepageSizesKiB: number[];
  memTotalMiB: number;
  memAvailableMiB: number;
  hugepagesFreeBySizeKiB: Record<string, number>;
  pciAddresses: string[];
  bootId: string;
}

export interface DutHostArgs {
  host: Host;
  tuning: Tuning;
  accel: Accel;
  connection: pulumi.Input<Connection>;
  /** more directories the lab owns on this host (e.g. the QEMU prefix root), removed last */
  dirs?: string[];
  /**
   * checks the config against the host's facts before anything changes the host: returns the
   * errors (config path, what the host has, the fix); any error fails the first changing step
   */
  preflight?: (facts: DutFacts) => string[];
}

/** Directories a stack uses on a host: its run dir and its records, named after the stack. */
export function labDirs(stack: string): string[] {
  return [`/run/vhost-perf-lab/${stack}`, `/var/lib/vhost-perf-lab/${stack}`];
}

/** Shared helpers of the tuning scripts (undo stack, record, JSON), shipped with each of them. */
const TUNING_LIB = "scripts/lib/tuning-common.sh";

/** What one runtime tuning step reported (the JSON line of its script), by tuning. */
export type TuningReport = Record<string, unknown>;

/**
 * A DUT host: its facts (CPUs, NUMA, memory, kernel, hugepages, whether KVM can really run a
 * guest) and the tuning the lab needs, each step with its exact revert on destroy.
 */
export class DutHost extends pulumi.ComponentResource {
  readonly facts: pulumi.Output<DutFacts>;
  /** kvm or tcg: `auto` resolved against the facts */
  readonly accel: pulumi.Output<"kvm" | "tcg">;
  readonly hugepages: pulumi.Output<{ size: string; total: number; free: number; mount: string }>;
  /** what each runtime tuning step did (sysctl, irqbalance, cpufreq), as its script reported */
  readonly tuning: pulumi.Output<TuningReport[]>;
  /** last resource of the host's preparation: later steps depend on it */
  readonly ready: pulumi.Resource;
  /** token of the lab directories' step: steps that only need the directories build on it */
  readonly dirsToken: pulumi.Output<string>;
  /** token of the hugepage step (or of the directories without one): memory users build on it */
  readonly hugepagesToken: pulumi.Output<string>;
  readonly connection: pulumi.Input<Connection>;
  readonly name: string;
  /** the kernel command line after its reboot step (isolcpus/kernel-args), when asked for */
  readonly kernel: pulumi.Output<RebootReport> | undefined;

  constructor(name: string, args: DutHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:dut:DutHost", name, {}, opts);
    this.name = args.host.name;
    this.connection = args.connection;
    const plan = planTuning(args.host, args.tuning);
    const facts = hostScript(
      `${name}-facts`,
      { connection: args.connection, up: { script: "dut-facts.sh" } },
      { parent: this },
    );
    this.facts = lastJson<DutFacts>(facts.stdout);
    // The config against the host's facts: a mismatch stops here, before the first change.
    const preflight = this.facts.apply((f) => {
      const errors = args.preflight?.(f) ?? [];
      if (errors.length > 0) {
        throw new pulumi.RunError(
          `host ${args.host.name}: the config does not fit this host (nothing was changed):\n  ${errors.join("\n  ")}`,
        );
      }
      return "ok";
    });
    // The kernel command line first (it may reboot the host: /run is empty afterwards), the
    // lab's directories and the runtime tunings after it.
    const kplan = planKernelArgs(args.host, args.tuning);
    const kernel = kplan
      ? new KernelCmdline(
          name,
          {
            hostName: args.host.name,
            connection: args.connection,
            plan: kplan,
            reboot: args.tuning.reboot,
            dependsOn: [facts],
          },
          { parent: this },
        )
      : undefined;
    this.kernel = kernel?.verified;
    // the lab's directories: created before, removed after every other step of this host
    const dirs = hostScript(
      `${name}-dirs`,
      {
        connection: args.connection,
        up: { script: "lab-dirs.sh", args: ["up"] },
        down: { script: "lab-dirs.sh", args: ["down"] },
        environment: {
          LAB_DIRS: [...labDirs(pulumi.getStack()), ...(args.dirs ?? [])].join(" "),
          LAB_PREFLIGHT: preflight,
        },
        probe: { kind: "boot", status: { script: "lab-dirs.sh", args: ["status"] } },
      },
      { parent: this, dependsOn: [facts, ...(kernel ? [kernel.ready] : [])] },
    );
    this.dirsToken = stepToken(dirs);
    this.accel = this.facts.apply((f) => {
      if (args.accel === "kvm" && !f.kvmUsable) {
        throw new Error(
          `host ${args.host.name}: qemu.accel is kvm but KVM cannot run a guest here (${f.kvmReason}); fix: set vhost-perf-lab:qemu.accel to auto or tcg`,
        );
      }
      return args.accel === "auto" ? (f.kvmUsable ? "kvm" : "tcg") : args.accel;
    });

    // Runtime tunings, one step each, in a chain: each records what it found and its delete
    // puts exactly that back (in reverse order on destroy).
    let last: pulumi.Resource = dirs;
    const reports: pulumi.Output<TuningReport>[] = [];
    const step = (
      tuning: string,
      script: string,
      environment: Record<string, string>,
      files: string[] = [TUNING_LIB],
    ): command.remote.Command => {
      const cmd = hostScript(
        `${name}-${tuning}`,
        {
          connection: args.connection,
          up: { script, args: ["apply"] },
          down: { script, args: ["revert"] },
          environment,
          files,
          after: [this.dirsToken],
          probe: { kind: "boot" },
        },
        { parent: this, dependsOn: [last] },
      );
      last = cmd;
      return cmd;
    };

    if (args.tuning.apply.includes("hugepages")) {
      const hp = step("hugepages", "dut-hugepages.sh", {
        HUGEPAGES_SIZE: args.host.hugepages.size,
        HUGEPAGES_COUNT: String(args.host.hugepages.count),
        HUGEPAGES_NODE: String(args.host.numaNode),
      });
      this.hugepages = lastJson(hp.stdout);
      this.hugepagesToken = stepToken(hp);
    } else {
      this.hugepagesToken = this.dirsToken;
      this.hugepages = this.facts.apply((f) => {
        const pool = f.hugepages[args.host.hugepages.size === "1G" ? "1048576kB" : "2048kB"];
        return { size: args.host.hugepages.size, total: pool?.total ?? 0, free: pool?.free ?? 0, mount: "" };
      });
    }
    if (plan.sysctl) {
      const cmd = step("sysctl", "dut-sysctl.sh", { SYSCTL_SETTINGS: sysctlScriptInput(plan.sysctl) });
      reports.push(lastJson<TuningReport>(cmd.stdout));
    }
    if (plan.irqCpus !== undefined) {
      const cmd = step("irqbalance", "dut-irq-affinity.sh", { IRQ_CPUS: plan.irqCpus });
      reports.push(lastJson<TuningReport>(cmd.stdout));
    }
    if (plan.governor !== undefined || plan.turboOff) {
      const cmd = step("cpufreq", "dut-cpufreq.sh", {
        CPUFREQ_GOVERNOR: plan.governor ?? "",
        CPUFREQ_TURBO: plan.turboOff ? "off" : "",
      });
      reports.push(
        lastJson<TuningReport>(cmd.stdout).apply((r) => {
          for (const part of ["governor", "turbo"]) {
            const p = r[part] as { status?: string; reason?: string } | undefined;
            if (p?.status === "unavailable")
              pulumi.log.warn(
                `host ${args.host.name}: ${part} not tuned: ${p.reason ?? "unavailable"}`,
                this,
              );
          }
          return r;
        }),
      );
    }
    this.tuning = pulumi.all(reports).apply((all) => all as TuningReport[]);
    this.ready = last;
    this.registerOutputs({
      facts: this.facts,
      accel: this.accel,
      hugepages: this.hugepages,
      tuning: this.tuning,
    });
  }
}
