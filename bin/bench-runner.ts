#!/usr/bin/env node
/**
 * bench-runner: runs a benchmark plan (lib/bench/plan.ts) against the lab and prints ONE JSON
 * document on stdout; progress goes to stderr.
 *
 *   node build/bin/bench-runner.js [--time-limit <s>] [--tolerate-failed-cells] --plan plan.json
 *   node build/bin/bench-runner.js < plan.json
 *
 * Exit status: 0 all cells measured (or some failed, with --tolerate-failed-cells); 1 some cell
 * failed or was skipped; 2 the run stopped early (connection, revert failure, interrupt, time
 * limit) or the plan is invalid; 130 a second SIGINT/SIGTERM (after a best-effort restore).
 *
 * Interrupts: the first SIGINT or SIGTERM (the command provider's cancel: TERM to the process
 * group, 3 s, KILL), or --time-limit running out, abandons what is running at once; the runner
 * then restores every thread's policy and the RT runtime from the record on the DUT, stops the
 * trafgen trial and its qdisc, removes its files under /run/vhost-perf-lab/<stack>/, and exits 2
 * with the reason on stderr, well within the 3 s. A second signal exits at once after a
 * best-effort restore (at most ~1.5 s). A SIGKILL leaves the record on the DUT: the Benchmark's
 * guard step (scripts/sched-restore.sh) restores it at the next run or at `pulumi destroy`.
 */
import { readFileSync } from "node:fs";
import { AbortedError } from "../lib/bench/abort";
import { hostPaths, parsePlan, PlanError, type BenchPlan } from "../lib/bench/plan";
import { HostPool } from "../lib/bench/remote";
import { toJson } from "../lib/bench/report";
import { findScript, findTelemetryClient, runBench, type RunnerDeps } from "../lib/bench/runner";
import { runRestore } from "../lib/bench/schedPolicy";
import { runWithStore } from "../lib/results/session";

const USAGE =
  "usage: bench-runner [--plan <file.json>] [--time-limit <seconds>] [--tolerate-failed-cells] [--no-probe]\n" +
  "       [--results] [--fresh]   (--results: keep the run in the stack's result store, reuse unchanged cells,\n" +
  "                               write the HTML report; --fresh: measure every cell again)\n" +
  "       (plan JSON on stdin without --plan)";

/** A closed pipe (the engine went away) must not crash the runner before it has restored. */
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

function say(line: string): void {
  try {
    process.stderr.write(`bench-runner: ${line}\n`);
  } catch {
    // nobody is listening any more
  }
}

function readStdin(): string {
  return readFileSync(0, "utf8");
}

interface Options {
  planFile?: string;
  probe: boolean;
  timeLimitS?: number;
  tolerateFailedCells: boolean;
  results: boolean;
  fresh: boolean;
}

function parseArgs(argv: string[]): Options | string {
  const o: Options = { probe: true, tolerateFailedCells: false, results: false, fresh: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string | undefined => {
      const eq = arg.indexOf("=");
      return eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    };
    const name = arg.split("=")[0];
    if (name === "--plan") o.planFile = value();
    else if (name === "--time-limit") {
      const v = Number(value());
      if (!(v > 0)) return `--time-limit needs a number of seconds > 0`;
      o.timeLimitS = v;
    } else if (arg === "--tolerate-failed-cells") o.tolerateFailedCells = true;
    else if (arg === "--no-probe") o.probe = false;
    else if (arg === "--results") o.results = true;
    else if (arg === "--fresh") o.fresh = true;
    else return `unknown argument ${arg}`;
  }
  return o;
}

/** Second signal: put back what the DUT's record lists, as fast as possible, then go. */
async function emergencyRestore(plan: BenchPlan, hosts: HostPool, script: string | null): Promise<void> {
  if (!script) return;
  const paths = hostPaths(plan.stack);
  const exec = await hosts.get(plan.dut.host);
  const r = await runRestore(exec, paths.runDir, script, 1200);
  say(r.found ? `best-effort restore: ${JSON.stringify(r)}` : "best-effort restore: nothing to restore");
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const opts = parseArgs(argv);
  if (typeof opts === "string") {
    say(`${opts}\n${USAGE}`);
    return 2;
  }
  let raw: string;
  try {
    raw =
      opts.planFile === undefined || opts.planFile === "-"
        ? readStdin()
        : readFileSync(opts.planFile, "utf8");
  } catch (e) {
    say(`cannot read the plan: ${(e as Error).message}`);
    return 2;
  }
  let plan: BenchPlan;
  try {
    plan = parsePlan(JSON.parse(raw));
  } catch (e) {
    say(e instanceof PlanError ? e.message : `plan is not valid JSON: ${(e as Error).message}`);
    return 2;
  }

  const hosts = new HostPool(plan.hosts);
  const restoreScript = findScript("sched-restore.sh", __dirname);
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      say(`${sig}: stopping now; restoring scheduling, stopping trafgen, removing the run's files`);
      abort.abort(new AbortedError(sig));
      return;
    }
    say(`${sig} again: best-effort restore, then exit at once`);
    const deadline = new Promise((resolve) => setTimeout(resolve, 1500));
    void Promise.race([
      emergencyRestore(plan, hosts, restoreScript).catch((e: unknown) => say(String(e))),
      deadline,
    ]).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const timer =
    opts.timeLimitS === undefined
      ? undefined
      : setTimeout(() => {
          say(`time limit of ${opts.timeLimitS} s reached: stopping`);
          abort.abort(new AbortedError(`time limit of ${opts.timeLimitS} s`));
        }, opts.timeLimitS * 1000);

  const deps: RunnerDeps = {
    hosts,
    log: (line) => {
      try {
        process.stderr.write(`${line}\n`);
      } catch {
        // nobody is listening any more
      }
    },
    signal: abort.signal,
    telemetryClient: findTelemetryClient(__dirname),
    restoreScript,
    ...(opts.probe ? {} : { probe: null }),
  };
  // --results: the result store decides which cells to measure (lib/results/session.ts)
  const report = opts.results
    ? await runWithStore(plan, deps, { stack: plan.stack, fresh: opts.fresh })
    : await runBench(plan, deps);
  if (timer) clearTimeout(timer);
  await hosts.closeAll();
  try {
    process.stdout.write(`${toJson(report)}\n`);
  } catch {
    // stdout closed: the report is lost, the exit status still tells
  }
  if (report.fatal !== undefined) {
    say(`FAILED: ${report.fatal}`);
    if (abort.signal.aborted) {
      say(
        /restore failed/.test(report.fatal)
          ? "interrupted, and the restore FAILED (see above): the record stays on the DUT for sched-restore.sh"
          : "interrupted: scheduling restored, trafgen stopped, the run's files removed",
      );
    }
    return 2;
  }
  const failed = report.cells.filter((c) => c.error !== undefined);
  if (failed.length > 0) {
    say(
      `${failed.length} of ${report.cells.length} cells failed or were skipped: ` +
        failed.map((c) => `${c.name}: ${c.error}`).join("; "),
    );
    return opts.tolerateFailedCells ? 0 : 1;
  }
  say(`${report.cells.length} cells done in ${report.durationS} s`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit now: an abandoned command (a trial left behind by the interrupt) must not keep the
    // process alive past the provider's grace.
    process.exit(code);
  },
  (e: unknown) => {
    say(`internal error: ${(e as Error).stack ?? String(e)}`);
    process.exit(2);
  },
);
