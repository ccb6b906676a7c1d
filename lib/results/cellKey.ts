/**
 * The cell key: a hash of everything that decides what a cell measures, its own parameters (frame,
 * vring size, policy, tests), the plan's measurement parameters (MRR, NDR/PDR, naming, TG, sched)
 * and the setup facts (kernel + command line, QEMU + patches, negotiated rings, CPUs, TG, vswitch).
 * Same key = same experiment, so an earlier result may stand in for it. Pure.
 */
import { createHash } from "node:crypto";
import type { BenchPlan, CellSpec } from "../bench/plan";
import { frameLabel } from "../measure/units";
import type { SetupFacts } from "./types";

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** What of the plan goes into every cell's key (no hosts, pids or secrets). */
export function planKeyPart(plan: BenchPlan): unknown {
  const tg =
    plan.tg.kind === "trafgen"
      ? { kind: plan.tg.kind, directions: plan.tg.directions, sources: plan.tg.sources }
      : { kind: plan.tg.kind };
  return { mrr: plan.mrr, ndrpdr: plan.ndrpdr, naming: plan.naming, sched: plan.sched, tg };
}

export function cellKeyMaterial(cell: CellSpec, plan: BenchPlan, setup: SetupFacts): unknown {
  return {
    v: 1,
    cell: {
      frame: frameLabel(cell.frame),
      vringSize: cell.vringSize,
      policy: cell.policy,
      tests: [...cell.tests].sort(),
    },
    plan: planKeyPart(plan),
    setup,
  };
}

/** 16 hex digits of sha256 over the canonical material. */
export function cellKey(cell: CellSpec, plan: BenchPlan, setup: SetupFacts): string {
  return createHash("sha256")
    .update(canonicalJson(cellKeyMaterial(cell, plan, setup)))
    .digest("hex")
    .slice(0, 16);
}
