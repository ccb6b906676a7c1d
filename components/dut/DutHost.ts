import * as pulumi from "@pulumi/pulumi";
import type { Host, Tuning, Accel } from "../../lib/lab";
import { hostScript, lastJson, type Connection } from "../shared/hostScript";

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
}

export interface DutHostArgs {
  host: Host;
  tuning: Tuning;
  accel: Accel;
  connection: pulumi.Input<Connection>;
  /** more directories the lab owns on this host (e.g. the QEMU prefix root), removed last */
  dirs?: string[];
}

/** Directories every lab uses on a host. */
export const LAB_DIRS = ["/run/vhost-perf-lab", "/var/lib/vhost-perf-lab"];

/** Tunings the DutHost applies today; the others are reported, not silently skipped. */
export const IMPLEMENTED_TUNINGS = ["hugepages"] as const;

/**
 * A DUT host: its facts (CPUs, NUMA, memory, kernel, hugepages, whether KVM can really run a
 * guest) and the tuning the lab needs, each step with its exact revert on destroy.
 */
export class DutHost extends pulumi.ComponentResource {
  readonly facts: pulumi.Output<DutFacts>;
  /** kvm or tcg: `auto` resolved against the facts */
  readonly accel: pulumi.Output<"kvm" | "tcg">;
  readonly hugepages: pulumi.Output<{ size: string; total: number; free: number; mount: string }>;
  /** last resource of the host's preparation: later steps depend on it */
  readonly ready: pulumi.Resource;
  readonly connection: pulumi.Input<Connection>;
  readonly name: string;

  constructor(name: string, args: DutHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:dut:DutHost", name, {}, opts);
    this.name = args.host.name;
    this.connection = args.connection;
    const skipped = args.tuning.apply.filter((t) => !(IMPLEMENTED_TUNINGS as readonly string[]).includes(t));
    if (skipped.length > 0) {
      pulumi.log.warn(
        `host ${args.host.name}: tunings not implemented yet, not applied: ${skipped.join(", ")}`,
        this,
      );
    }

    const facts = hostScript(
      `${name}-facts`,
      { connection: args.connection, up: { script: "dut-facts.sh" } },
      { parent: this },
    );
    this.facts = lastJson<DutFacts>(facts.stdout);
    // the lab's directories: created before, removed after every other step of this host
    const dirs = hostScript(
      `${name}-dirs`,
      {
        connection: args.connection,
        up: { script: "lab-dirs.sh", args: ["up"] },
        down: { script: "lab-dirs.sh", args: ["down"] },
        environment: { LAB_DIRS: [...LAB_DIRS, ...(args.dirs ?? [])].join(" ") },
      },
      { parent: this, dependsOn: [facts] },
    );
    this.accel = this.facts.apply((f) => {
      if (args.accel === "kvm" && !f.kvmUsable) {
        throw new Error(
          `host ${args.host.name}: qemu.accel is kvm but KVM cannot run a guest here (${f.kvmReason}); fix: set vhost-perf-lab:qemu.accel to auto or tcg`,
        );
      }
      return args.accel === "auto" ? (f.kvmUsable ? "kvm" : "tcg") : args.accel;
    });

    if (args.tuning.apply.includes("hugepages")) {
      const hp = hostScript(
        `${name}-hugepages`,
        {
          connection: args.connection,
          up: { script: "dut-hugepages.sh", args: ["apply"] },
          down: { script: "dut-hugepages.sh", args: ["revert"] },
          environment: {
            HUGEPAGES_SIZE: args.host.hugepages.size,
            HUGEPAGES_COUNT: String(args.host.hugepages.count),
          },
        },
        { parent: this, dependsOn: [dirs] },
      );
      this.hugepages = lastJson(hp.stdout);
      this.ready = hp;
    } else {
      this.hugepages = this.facts.apply((f) => {
        const pool = f.hugepages[args.host.hugepages.size === "1G" ? "1048576kB" : "2048kB"];
        return { size: args.host.hugepages.size, total: pool?.total ?? 0, free: pool?.free ?? 0, mount: "" };
      });
      this.ready = dirs;
    }
    this.registerOutputs({ facts: this.facts, accel: this.accel, hugepages: this.hugepages });
  }
}
