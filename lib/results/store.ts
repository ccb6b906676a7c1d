/**
 * The result store of a stack: ~/.vhost-perf-lab/stacks/<stack>/results/ (VPL_HOME moves the
 * root, as in scripts/setup.sh). One directory per run:
 *   runs/<runId>/run.json       the runner's full document, with the store's additions
 *   runs/<runId>/setup.json     the setup facts of the run
 *   runs/<runId>/records.json   one CSIT-shaped record per test
 *   runs/<runId>/report.html    the report of the run (with the stack's history)
 * and report.html at the top: the latest report. Files are written to a temporary name and renamed.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { STACK_RE } from "../bench/plan";
import { csitRecords } from "./csit";
import type { CellReport, StoredRunDoc } from "./types";

export function vplHome(): string {
  return process.env.VPL_HOME ?? join(homedir(), ".vhost-perf-lab");
}

export function storeDir(stack: string, home = vplHome()): string {
  if (!STACK_RE.test(stack)) throw new Error(`"${stack}" is not a stack name ([a-z0-9][a-z0-9-]{0,30})`);
  return join(home, "stacks", stack, "results");
}

/** Sortable run id from the start time: 20261204T160102Z plus a suffix when taken. */
export function newRunId(dir: string, startedAt: string): string {
  const base = startedAt.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  let id = base;
  for (let n = 2; existsSync(join(dir, "runs", id)); n++) id = `${base}-${n}`;
  return id;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function saveRun(dir: string, doc: StoredRunDoc): string {
  const runId = doc.results?.runId;
  if (!runId) throw new Error("the document has no results.runId");
  const runDir = join(dir, "runs", runId);
  mkdirSync(runDir, { recursive: true });
  writeAtomic(join(runDir, "run.json"), `${JSON.stringify(doc, null, 2)}\n`);
  writeAtomic(join(runDir, "setup.json"), `${JSON.stringify(doc.results?.setup ?? null, null, 2)}\n`);
  writeAtomic(join(runDir, "records.json"), `${JSON.stringify(csitRecords(doc), null, 2)}\n`);
  return runDir;
}

export function writeReport(dir: string, runId: string, html: string): string {
  const path = join(dir, "runs", runId, "report.html");
  writeAtomic(path, html);
  writeAtomic(join(dir, "report.html"), html);
  return path;
}

/** Every stored run of the stack, oldest first; unreadable ones are skipped (and named). */
export function loadRuns(dir: string, onSkip: (why: string) => void = () => undefined): StoredRunDoc[] {
  const runsDir = join(dir, "runs");
  if (!existsSync(runsDir)) return [];
  const out: StoredRunDoc[] = [];
  for (const id of readdirSync(runsDir).sort()) {
    const file = join(runsDir, id, "run.json");
    try {
      out.push(JSON.parse(readFileSync(file, "utf8")) as StoredRunDoc);
    } catch (e) {
      onSkip(`${file}: ${(e as Error).message}`);
    }
  }
  return out;
}

/**
 * A measurement worth keeping: no error, not skipped, the MRR trials sent what was asked and the
 * NDR/PDR search reached its goals (a search stopped by a generator shortfall or the time limit
 * is measured again).
 */
export function isGoodResult(cell: CellReport): boolean {
  if (cell.error !== undefined || cell.skipped) return false;
  if (cell.mrr && cell.mrr.shortfallTrials > 0) return false;
  if (cell.ndrpdr && cell.ndrpdr.stopReason !== "goals-reached") return false;
  return true;
}

/**
 * The latest good result for a cell key measured on the same running datapath (see
 * StoredRunDoc.results.datapath), with the origin of the run that measured it.
 */
export function findReusable(
  runs: readonly StoredRunDoc[],
  key: string,
  datapath: string,
): { cell: CellReport; runId: string } | null {
  for (const doc of [...runs].reverse()) {
    if (doc.results?.datapath !== datapath) continue;
    for (const cell of doc.cells) {
      const origin = doc.results.origins[cell.name];
      if (!origin || origin.key !== key || !isGoodResult(cell)) continue;
      return { cell, runId: origin.runId };
    }
  }
  return null;
}
