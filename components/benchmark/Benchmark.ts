import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { BenchPlan } from "../../lib/bench/plan";
import type { BenchReport, CellReport } from "../../lib/bench/report";
import { contentHash, repoRoot } from "../shared/scripts";
import { shellJoin } from "../shared/shell";

export interface BenchmarkArgs {
  /** the runner's plan; a secret (it carries the SSH key) */
  plan: pulumi.Input<BenchPlan>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Content of the runner's code, so a changed runner measures again. */
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
  for (const d of ["lib/bench", "lib/measure"]) walk(path.join(root, d));
  files.push(path.join(root, "bin", "bench-runner.ts"));
  return contentHash(...files.sort().map((f) => fs.readFileSync(f, "utf8")));
}

/**
 * The post-deploy benchmark: the project's runner (bin/bench-runner.ts) over the matrix, as a
 * command on the machine running Pulumi, after every host is up. It reaches the hosts over SSH,
 * applies and reverts cfsrr1 per cell, and prints one JSON document; its cells become outputs.
 * It runs again only when the plan or the runner changes.
 */
export class Benchmark extends pulumi.ComponentResource {
  readonly report: pulumi.Output<BenchReport>;
  readonly cells: pulumi.Output<CellReport[]>;

  constructor(name: string, args: BenchmarkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhost-perf-lab:benchmark:Benchmark", name, {}, opts);
    const root = repoRoot();
    const run = `${shellJoin(["node", path.join(root, "bin", "run-ts.cjs"), path.join(root, "bin", "bench-runner.ts")])}; rc=$?; [ "$rc" -le 1 ] || exit "$rc"`;
    const planJson = pulumi.output(args.plan).apply((p) => JSON.stringify(p));
    const cmd = new command.local.Command(
      `${name}-run`,
      {
        create: run,
        update: run,
        stdin: pulumi.secret(planJson),
        triggers: [runnerHash(), pulumi.unsecret(planJson.apply((p) => contentHash(p)))],
        addPreviousOutputInEnv: false,
        logging: "stderr",
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: "4h", update: "4h" } },
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
    this.registerOutputs({ report: this.report });
  }
}
