#!/usr/bin/env node
/**
 * report: rebuilds the HTML report from a stack's result store and compares runs or stacks.
 *
 *   npm run report                                  # stack local, all runs: the last vs the one before
 *   npm run report -- --stack perf --runs 5         # the last 5 runs of perf
 *   npm run report -- --stack local,perf            # the latest run of perf against local's
 *   npm run report -- --out /tmp/r.html             # also write the file there
 *
 * Prints the report's path and a text summary (impact, repeatability, flagged changes) on stdout.
 * Exit 1 when there is no stored run, 2 on bad arguments.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderHtml } from "../lib/results/html";
import { reportModel, type ReportModel } from "../lib/results/model";
import { loadRuns, storeDir } from "../lib/results/store";
import { fmtPct, fmtPps } from "../lib/results/html";

const USAGE = "usage: report [--stack <name>[,<name>]] [--runs <N>] [--out <file.html>]";

interface Args {
  stacks: string[];
  runs: number | null;
  out: string | null;
}

export function parseArgs(argv: string[]): Args | string {
  const a: Args = { stacks: ["local"], runs: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = (): string | undefined => argv[++i];
    if (arg === "--stack") {
      const v = next();
      if (!v) return "--stack needs a name";
      a.stacks = v.split(",").filter(Boolean);
      if (a.stacks.length < 1 || a.stacks.length > 2) return "--stack takes one stack, or two to compare";
    } else if (arg === "--runs") {
      const n = Number(next());
      if (!Number.isInteger(n) || n < 1) return "--runs needs a whole number >= 1";
      a.runs = n;
    } else if (arg === "--out") {
      const v = next();
      if (!v) return "--out needs a file";
      a.out = v;
    } else return `unknown argument ${arg}`;
  }
  return a;
}

export function textSummary(m: ReportModel): string {
  const lines: string[] = [];
  lines.push(
    `run ${m.current.runId} (${m.current.stack}): ${m.current.cells.length} cells, ${m.current.cells.filter((c) => c.reused).length} reused, ${m.history.length} run(s) in the history`,
  );
  if (m.current.calibration) {
    const c = m.current.calibration;
    lines.push(
      `TG calibration: asked ${fmtPps(c.askedPps)}, achieved ${fmtPps(c.achievedPps)} pps/dir${c.capped ? `, capped to ${fmtPps(c.capPps)}` : ""}`,
    );
  }
  lines.push("cfsrr1 vs cfs (cfsrr1 - cfs):");
  for (const r of m.impact) {
    const d = r.diff;
    const ci =
      d && d.low !== null && d.high !== null
        ? ` 95% CI [${fmtPps(d.low)}, ${fmtPps(d.high)}]${d.significant ? " significant" : " within noise"}`
        : "";
    lines.push(
      `  ${r.frame} ${r.metric}: cfs ${fmtPps(r.cfs)}, cfsrr1 ${fmtPps(r.cfsrr1)}, diff ${fmtPps(d?.diff ?? null)} (${fmtPct(d?.relative ?? null)})${ci}`,
    );
  }
  lines.push("repeatability:");
  for (const r of m.repeatability) {
    lines.push(
      `  ${r.cell} ${r.metric}: CV within ${fmtPct(r.cvWithin, 2)}; ${r.runs.length} run(s) ${r.runs.map((x) => fmtPps(x.value)).join(" / ")}; CV across ${fmtPct(r.cvAcross, 2)}, spread ${fmtPct(r.spreadAcross, 2)}`,
    );
  }
  if (m.comparison && m.baseline) {
    const flagged = m.comparison.filter((r) => r.flagged);
    lines.push(
      `compared with ${m.baseline.stack} run ${m.baseline.runId}: ${flagged.length} change(s) beyond the noise`,
    );
    for (const r of m.comparison) {
      lines.push(
        `  ${r.flagged ? "CHANGED" : "same   "} ${r.cell} ${r.metric}: ${fmtPps(r.before)} -> ${fmtPps(r.after)} (${fmtPct(r.relative)}; noise ${fmtPct(r.noise)})${r.note ? `; ${r.note}` : ""}`,
      );
    }
  }
  return lines.join("\n");
}

function main(argv: string[]): number {
  const args = parseArgs(argv);
  if (typeof args === "string") {
    process.stderr.write(`report: ${args}\n${USAGE}\n`);
    return 2;
  }
  const skip = (why: string): void => void process.stderr.write(`report: skipped ${why}\n`);
  const [first, second] = args.stacks as [string, string | undefined];
  const firstRuns = loadRuns(storeDir(first), skip);
  const limit = <T>(xs: T[]): T[] => (args.runs === null ? xs : xs.slice(-args.runs));
  let model: ReportModel;
  let outDir: string;
  if (second === undefined) {
    const runs = limit(firstRuns);
    if (runs.length === 0) {
      process.stderr.write(`report: no stored run in ${storeDir(first)} (run \`npm run lab\` first)\n`);
      return 1;
    }
    model = reportModel({ runs });
    outDir = storeDir(first);
  } else {
    const secondRuns = limit(loadRuns(storeDir(second), skip));
    const base = firstRuns[firstRuns.length - 1];
    if (!base || secondRuns.length === 0) {
      process.stderr.write(
        `report: both stacks need a stored run (${first}: ${firstRuns.length}, ${second}: ${secondRuns.length})\n`,
      );
      return 1;
    }
    model = reportModel({
      runs: secondRuns,
      baseline: base,
      title: `vhost-perf-lab: ${second} compared with ${first}`,
    });
    outDir = storeDir(second);
  }
  const html = renderHtml(model);
  const path = join(outDir, second === undefined ? "report.html" : `report-vs-${first}.html`);
  writeFileSync(path, html);
  if (args.out) writeFileSync(args.out, html);
  process.stdout.write(`${textSummary(model)}\nreport: ${args.out ?? path}\n`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
