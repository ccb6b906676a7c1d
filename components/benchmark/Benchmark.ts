import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { BenchPlan } from "../../lib/bench/plan";
import type { BenchReport, CellReport } from "../../lib/bench/report";
import type { StoredRunDoc } from "../../lib/results/types";
import { hostScript, type Connection } from "../shared/hostScript";
import { contentHash, repoRoot } from "../shared/scripts";
import { shellJoin } from "../shared/shell";

export interface BenchmarkArgs {
  /** the runner's plan; a secret (it carries the SSH key) */
  plan: pulumi.Input<BenchPlan>;
  /**
   * the DUT's connection (the same the DUT's host steps use): the guard step runs
   * scripts/sched-restore.sh there, so `pulumi destroy` restores what a killed runner changed
   */
  connection: pulumi.Input<Connection>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  /**
   * Measure every cell again, even those the result store has for the same cell key (a repeat run
   * for the run-to-run spread): `VPL_FRESH=1 pulumi up`. The run is triggered by a new nonce.
   */
  fresh?: boolean;
}

/** The run's timeout in Pulumi; the runner stops (and restores) by itself a minute before. */
const RUN_TIMEOUT_S = 4 * 3600;
const RUNNER_TIME_LIMIT_S = RUN_TIMEOUT_S - 60;

/** Content of the runner's code (and the restore script it ships), so a changed runner measures again. */
function runnerHash(): string {
  const root = repoRoot();
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) files.push(p);
    }
  };
  for (const d of ["lib/bench", "lib/measure", "lib/results"]) walk(path.join(root, d));
  files.push(path.join(root, "bin", "bench-runner.ts"), path.join(root, "scripts", "sched-restore.sh"));
  return contentHash(...files.sort().map((f) => fs.readFileSync(f, "utf8")));
}

/**
 * The post-deploy benchmark: the project's runner (bin/bench-runner.ts) over the matrix, as a
 * command on the machine running Pulumi, after every host is up. It reaches the hosts over SSH,
 * applies and reverts cfsrr1 per cell, and prints one JSON document; its cells become outputs.
 * It runs again only when the plan or the runner changes.
 *
 * Before any scheduling change the runner writes a record on the DUT
 * (/run/vhost-perf-lab/<stack>/sched.record) and removes it after a clean revert; on SIGINT,
 * SIGTERM (the provider's cancel) or its own time limit it restores everything and exits non-zero
 * within the provider's grace. A SIGKILL cannot be handled: the guard step, created before the
 * run, covers it. Its up (`sched-restore.sh check`) restores a record a killed run left before a
 * new run starts, and its down (`sched-restore.sh down`) does the same at `pulumi destroy`, after
 * the run and before the VMs and the vswitch go.
 */
export class Benchmark extends pulumi.ComponentResource {
  readonly report: pulumi.Output<BenchReport>;
  readonly cells: pulumi.Output<CellReport[]>;
  /** the HTML report of the run (the result store, lib/results/store.ts) */
  readonly reportPath: pulumi.Output<string | null>;

  constructor(name: string, args: BenchmarkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:benchmark:Benchmark", name, {}, opts);
    const root = repoRoot();
    const guard = hostScript(
      `${name}-sched-guard`,
      {
        connection: args.connection,
        up: { script: "sched-restore.sh", args: ["check"] },
        down: { script: "sched-restore.sh", args: ["down"] },
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    // exec: the runner is the process the provider signals (no shell in between that would die
    // at once and leave the runner's restore unwaited for). Failed cells are reported in the
    // outputs, so they do not fail the step (--tolerate-failed-cells); an interrupt does.
    const run = `exec ${shellJoin([
      "node",
      path.join(root, "bin", "run-ts.cjs"),
      path.join(root, "bin", "bench-runner.ts"),
      "--tolerate-failed-cells",
      "--results",
      ...(args.fresh ? ["--fresh"] : []),
      "--time-limit",
      String(RUNNER_TIME_LIMIT_S),
    ])}`;
    const planJson = pulumi.output(args.plan).apply((p) => JSON.stringify(p));
    const cmd = new command.local.Command(
      `${name}-run`,
      {
        create: run,
        update: run,
        stdin: pulumi.secret(planJson),
        triggers: [
          runnerHash(),
          pulumi.unsecret(planJson.apply((p) => contentHash(p))),
          ...(args.fresh ? [`fresh-${Date.now()}`] : []),
        ],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      {
        parent: this,
        dependsOn: [guard, ...(args.dependsOn ?? [])],
        customTimeouts: { create: `${RUN_TIMEOUT_S}s`, update: `${RUN_TIMEOUT_S}s` },
      },
    );
    // stdout is stored as a secret because stdin is one; the report itself holds no secret
    this.report = pulumi.unsecret(cmd.stdout).apply((s) => {
      try {
        return JSON.parse(s) as BenchReport;
      } catch {
        throw new Error(`the benchmark runner printed no JSON document: ${s.slice(0, 300)}`);
      }
    });
    this.cells = this.report.apply((r) => r.cells);
    this.reportPath = this.report.apply((r) => (r as StoredRunDoc).results?.reportPath ?? null);
    this.registerOutputs({ report: this.report, reportPath: this.reportPath });
  }
}
