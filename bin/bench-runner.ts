#!/usr/bin/env node
/**
 * bench-runner: runs a benchmark plan (lib/bench/plan.ts) against the lab and prints ONE JSON
 * document on stdout; progress goes to stderr.
 *
 *   node build/bin/bench-runner.js --plan plan.json
 *   node build/bin/bench-runner.js < plan.json
 *
 * Exit status: 0 all cells measured; 1 some cell failed or was skipped; 2 the run stopped early
 * (connection, revert failure, interrupt) or the plan is invalid. Scheduling changes are reverted
 * before exit in every case the process can still act on (SIGINT/SIGTERM included).
 */
import { readFileSync } from "node:fs";
import { parsePlan, PlanError } from "../lib/bench/plan";
import { HostPool } from "../lib/bench/remote";
import { toJson } from "../lib/bench/report";
import { findTelemetryClient, runBench } from "../lib/bench/runner";

const USAGE = "usage: bench-runner [--plan <file.json>] [--no-probe]   (plan JSON on stdin without --plan)";

function readStdin(): string {
  return readFileSync(0, "utf8");
}

async function main(argv: string[]): Promise<number> {
  let planFile: string | undefined;
  let probe = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--plan") planFile = argv[++i];
    else if (arg?.startsWith("--plan=")) planFile = arg.slice("--plan=".length);
    else if (arg === "--no-probe") probe = false;
    else if (arg === "-h" || arg === "--help") {
      process.stderr.write(`${USAGE}\n`);
      return 0;
    } else {
      process.stderr.write(`bench-runner: unknown argument ${arg}\n${USAGE}\n`);
      return 2;
    }
  }
  let raw: string;
  try {
    raw = planFile === undefined || planFile === "-" ? readStdin() : readFileSync(planFile, "utf8");
  } catch (e) {
    process.stderr.write(`bench-runner: cannot read the plan: ${(e as Error).message}\n`);
    return 2;
  }
  let plan;
  try {
    plan = parsePlan(JSON.parse(raw));
  } catch (e) {
    const msg = e instanceof PlanError ? e.message : `plan is not valid JSON: ${(e as Error).message}`;
    process.stderr.write(`bench-runner: ${msg}\n`);
    return 2;
  }

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(
        `bench-runner: ${sig}: finishing the current trial, then reverting scheduling changes\n`,
      );
      abort.abort();
    } else if (signals === 2) {
      process.stderr.write(
        "bench-runner: still reverting; a third signal exits at once (RT threads may be left)\n",
      );
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const hosts = new HostPool(plan.hosts);
  const report = await runBench(plan, {
    hosts,
    log: (line) => process.stderr.write(`${line}\n`),
    signal: abort.signal,
    telemetryClient: findTelemetryClient(__dirname),
    ...(probe ? {} : { probe: null }),
  });
  await hosts.closeAll();
  process.stdout.write(`${toJson(report)}\n`);
  if (report.fatal !== undefined) {
    process.stderr.write(`bench-runner: FAILED: ${report.fatal}\n`);
    return 2;
  }
  const failed = report.cells.filter((c) => c.error !== undefined);
  if (failed.length > 0) {
    process.stderr.write(
      `bench-runner: ${failed.length} of ${report.cells.length} cells failed or were skipped: ` +
        failed.map((c) => `${c.name}: ${c.error}`).join("; ") +
        "\n",
    );
    return 1;
  }
  process.stderr.write(`bench-runner: ${report.cells.length} cells done in ${report.durationS} s\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench-runner: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 2;
  },
);
