/**
 * Validity checks shown pass/fail per cell: NDR <= PDR <= MRR, the negotiated ring size is the
 * one asked for, the scheduling policy is the one asked for, the TG reached the load. Pure.
 */
import type { CellReport } from "../bench/report";
import type { SetupFacts } from "./types";

export type Verdict = "pass" | "fail" | "n/a";

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
}

/**
 * The negotiated ring sizes in the VM launcher's report (no fixed shape): the values of every
 * "rx"/"tx" key at any depth, as numbers.
 */
export function ringSizesIn(value: unknown): number[] {
  if (Array.isArray(value)) return value.flatMap(ringSizesIn);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => {
    if (k === "rx" || k === "tx") {
      const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
      return typeof n === "number" && Number.isFinite(n) ? [n] : [];
    }
    return ringSizesIn(v);
  });
}

/** Relative tolerance for the ordering check, as the runner's sanity warnings use it. */
export const ORDER_TOLERANCE = 0.02;

export function orderCheck(cell: CellReport, tolerance = ORDER_TOLERANCE): Check {
  const ndr = cell.ndrpdr?.ndr?.lowerBoundPps ?? null;
  const pdr = cell.ndrpdr?.pdr?.lowerBoundPps ?? null;
  const mrr = cell.mrr?.avgPps ?? null;
  const name = "NDR <= PDR <= MRR";
  const pairs: [string, number | null, string, number | null][] = [
    ["NDR", ndr, "PDR", pdr],
    ["PDR", pdr, "MRR", mrr],
    ["NDR", ndr, "MRR", mrr],
  ];
  const known = pairs.filter(([, a, , b]) => a !== null && b !== null);
  if (known.length === 0) return { name, verdict: "n/a", detail: "fewer than two of NDR, PDR, MRR measured" };
  const bad = known.filter(([, a, , b]) => (a as number) > (b as number) * (1 + tolerance));
  const fmt = (l: string, v: number | null): string => `${l} ${v === null ? "-" : Math.round(v)}`;
  const detail = `${fmt("NDR", ndr)}, ${fmt("PDR", pdr)}, ${fmt("MRR", mrr)} pps (tolerance ${tolerance * 100} %)`;
  return bad.length === 0
    ? { name, verdict: "pass", detail }
    : { name, verdict: "fail", detail: `${bad.map(([a, , b]) => `${a} > ${b}`).join(", ")}: ${detail}` };
}

export function ringCheck(cell: CellReport, setup: SetupFacts): Check {
  const name = "ring size as asked";
  // the runner's proof for this very cell (several sizes per matrix), else the launcher's at deploy
  const own = cell.vring?.negotiated;
  const found = ringSizesIn(own ?? setup.vringSizes);
  if (found.length === 0) return { name, verdict: "n/a", detail: "no negotiated ring size was reported" };
  const where = own ? " (read for this cell)" : " (read at deploy)";
  const wrong = found.filter((n) => n !== cell.vringSize);
  return wrong.length === 0
    ? {
        name,
        verdict: "pass",
        detail: `asked ${cell.vringSize}, negotiated ${[...new Set(found)].join("/")}${where}`,
      }
    : {
        name,
        verdict: "fail",
        detail: `asked ${cell.vringSize}, negotiated ${[...new Set(found)].join("/")}${where}`,
      };
}

export function policyCheck(cell: CellReport): Check {
  const name = "policy as asked";
  const rr = cell.sched?.rtThreads ?? [];
  if (cell.policy === "cfsrr1") {
    return rr.length > 0
      ? {
          name,
          verdict: "pass",
          detail: `SCHED_RR 1 on ${rr.map((t) => `${t.label}:${t.comm}@${t.cpus.join(",")}`).join(", ")}`,
        }
      : { name, verdict: cell.error ? "n/a" : "fail", detail: "cfsrr1 asked, no thread was set to SCHED_RR" };
  }
  return rr.length === 0
    ? { name, verdict: "pass", detail: "cfs: no thread changed" }
    : { name, verdict: "fail", detail: `cfs asked, ${rr.length} thread(s) were RR` };
}

export function loadCheck(cell: CellReport): Check {
  const name = "TG reached the load";
  const problems: string[] = [];
  if (cell.mrr && cell.mrr.shortfallTrials > 0)
    problems.push(`${cell.mrr.shortfallTrials} of ${cell.mrr.trials.length} MRR trial(s) short of the load`);
  if (cell.ndrpdr?.stopReason === "generator-shortfall")
    problems.push("NDR/PDR search stopped: generator-shortfall");
  if (!cell.mrr && !cell.ndrpdr) return { name, verdict: "n/a", detail: "nothing measured" };
  return problems.length === 0
    ? { name, verdict: "pass", detail: "every trial sent what was asked (0.5 % tolerance)" }
    : { name, verdict: "fail", detail: problems.join("; ") };
}

export function cellChecks(cell: CellReport, setup: SetupFacts): Check[] {
  const checks = [orderCheck(cell), ringCheck(cell, setup), policyCheck(cell), loadCheck(cell)];
  checks.push(
    cell.error === undefined
      ? { name: "measured", verdict: "pass", detail: "no error" }
      : { name: "measured", verdict: "fail", detail: cell.error },
  );
  return checks;
}
