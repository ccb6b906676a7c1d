/**
 * The runner's output document: one JSON object on stdout. Pure shaping of lib/measure results into
 * the figures CSIT reports (pps and L1 bps, aggregate over directions), plus sanity checks.
 */
import type { CellVringProof } from "./vmRing";
import type { LatencyLevelReport } from "./tg/session";
import type { MrrResult } from "../measure/mrr";
import type { GoalResult, SearchResult } from "../measure/mlrsearch";
import { frameLabel, l1BitsPerSecond, type FrameSize } from "../measure/units";
import type { CfsPolicy } from "./plan";
import type { CalibrationReport } from "./calibrate";
import type { CellSchedReport } from "./schedPolicy";

/** One direction of a trial: TG port txPort -> (DUT) -> TG port rxPort. */
export interface DirectionReport {
  txPort: number;
  rxPort: number;
  offered: number;
  received: number;
  loss: number;
  /** received packets per second in this direction */
  pps: number;
  /**
   * bytes received in this direction and their mean per packet (Linux counts frames without the
   * 4-byte FCS: a 9000 B frame arrives as 8996), when the TG counts bytes: proof that the frames
   * came through whole, not only that packets moved
   */
  receivedBytes?: number;
  meanRxBytes?: number;
}

export interface MrrTrialReport {
  offered: number;
  received: number;
  /** (offered - received) / offered */
  loss: number;
  /** received packets per second, all directions */
  pps: number;
  /** the same per direction, when the TG sends both ways */
  directions?: DirectionReport[];
}

function directionReports(
  t: {
    perDirection?: readonly {
      txPort: number;
      rxPort: number;
      offeredCount: number;
      receivedCount: number;
      receivedBytes?: number;
    }[];
  },
  durationS: number,
): { directions?: DirectionReport[] } {
  if (!t.perDirection) return {};
  return {
    directions: t.perDirection.map((d) => ({
      txPort: d.txPort,
      rxPort: d.rxPort,
      offered: d.offeredCount,
      received: d.receivedCount,
      loss:
        d.offeredCount === 0 ? 1 : round(Math.max(0, (d.offeredCount - d.receivedCount) / d.offeredCount)),
      pps: round(d.receivedCount / durationS, 3),
      ...(d.receivedBytes !== undefined
        ? {
            receivedBytes: d.receivedBytes,
            ...(d.receivedCount > 0 ? { meanRxBytes: round(d.receivedBytes / d.receivedCount, 2) } : {}),
          }
        : {}),
    })),
  };
}

export interface MrrReport {
  testName: string;
  /** offered load per direction */
  loadPps: number;
  trialDurationS: number;
  trials: MrrTrialReport[];
  avgPps: number;
  stdevPps: number;
  /** coefficient of variation; null when nothing was received */
  cov: number | null;
  l1Bps: number;
  /** trials where the generator sent less than asked (the MRR is then of a lower load) */
  shortfallTrials: number;
  /** mean receive rate per direction (index = direction), when the TG sends both ways */
  avgPpsPerDirection?: number[];
}

export interface GoalReport {
  name: string;
  lossRatio: number;
  outcome: string;
  /** aggregate (all directions) relevant lower bound; null when none was established */
  lowerBoundPps: number | null;
  lowerBoundL1Bps: number | null;
  conditionalThroughputPps: number | null;
  /** per direction */
  upperBoundPps: number | null;
  relativeWidth: number | null;
}

export interface NdrPdrReport {
  testName: string;
  stopReason: string;
  ndr: GoalReport | null;
  pdr: GoalReport | null;
  minLoadPps: number;
  maxLoadPps: number;
  trialCount: number;
  trialSecondsUsed: number;
  elapsedS: number;
  trials: {
    loadPps: number;
    durationS: number;
    offered: number;
    received: number;
    loss: number;
    why: string;
    directions?: DirectionReport[];
  }[];
}

export interface CellReport {
  name: string;
  testNames: Partial<Record<"mrr" | "ndrpdr", string>>;
  vringSize: number;
  policy: CfsPolicy;
  frame: string;
  frameBytes: number | "IMIX_v4_1";
  directions: number;
  startedAt: string;
  durationS: number;
  probe?: { loadPps: number; offered: number; received: number };
  sched?: CellSchedReport;
  /** vswitch port counter deltas over the cell (DPDK telemetry), when available */
  vswitchPorts?: {
    id: number;
    name: string | null;
    rx: number;
    tx: number;
    missed: number;
    rxErrors: number;
    txErrors: number;
  }[];
  mrr?: MrrReport;
  ndrpdr?: NdrPdrReport;
  /** latency after NDR/PDR (TRex): per level (PDR10/50/90) and direction */
  latency?: LatencyLevelReport[];
  /** the vring size asked and what every VM negotiated, read before the cell (lib/bench/vmRing.ts) */
  vring?: CellVringProof;
  warnings: string[];
  error?: string;
  skipped?: boolean;
}

export interface BenchReport {
  tool: "vhost-perf-lab/bench-runner";
  schemaVersion: 1;
  plan: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  ok: boolean;
  tg: { kind: string; directions: number; note: string };
  hosts: Record<string, unknown>;
  facts: Record<string, unknown>;
  notes: string[];
  cells: CellReport[];
  /** set when the run stopped early (connection lost, revert failed, interrupted) */
  fatal?: string;
  /** the TG's achievable rate, measured before the matrix, and the max load cap (calibrate.ts) */
  calibration?: CalibrationReport;
  /** every calibration when the matrix has more than one frame size (the first is `calibration`) */
  calibrations?: CalibrationReport[];
}

const round = (x: number, digits = 6): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** JSON has no NaN/Infinity: such values become null. */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function shapeMrr(testName: string, result: MrrResult): MrrReport {
  const trials = result.trials.map((t) => ({
    offered: t.offeredCount,
    received: t.receivedCount,
    loss: round(t.lossRatio),
    pps: round(t.receivedPps, 3),
    ...directionReports(t, result.trialDurationS),
  }));
  const perDir = trials[0]?.directions?.map((_, d) =>
    round(trials.reduce((sum, t) => sum + (t.directions?.[d]?.pps ?? 0), 0) / trials.length, 3),
  );
  return {
    testName,
    loadPps: result.maxLoadPps,
    trialDurationS: result.trialDurationS,
    trials,
    ...(perDir ? { avgPpsPerDirection: perDir } : {}),
    avgPps: round(result.averagePps, 3),
    stdevPps: round(finiteOrNull(result.stdevPps) ?? 0, 3),
    cov: finiteOrNull(result.coefficientOfVariation) === null ? null : round(result.coefficientOfVariation),
    l1Bps: Math.round(result.averageL1Bps),
    shortfallTrials: result.shortfalls.length,
  };
}

function shapeGoal(goal: GoalResult, directions: number, frame: FrameSize): GoalReport {
  const lower = goal.relevantLowerBoundPps;
  const conditional = goal.conditionalThroughputPps;
  return {
    name: goal.goal.name,
    lossRatio: goal.goal.lossRatio,
    outcome: goal.outcome,
    lowerBoundPps: lower === null ? null : round(lower * directions, 3),
    lowerBoundL1Bps: lower === null ? null : Math.round(l1BitsPerSecond(lower * directions, frame)),
    conditionalThroughputPps: conditional === null ? null : round(conditional * directions, 3),
    upperBoundPps: goal.relevantUpperBoundPps === null ? null : round(goal.relevantUpperBoundPps, 3),
    relativeWidth: goal.relativeWidth === null ? null : round(goal.relativeWidth),
  };
}

export function shapeNdrPdr(
  testName: string,
  result: SearchResult,
  ndrName = "NDR",
  pdrName = "PDR",
): NdrPdrReport {
  const goals = result.goals.map((g) => shapeGoal(g, result.directions, result.config.frame));
  return {
    testName,
    stopReason: result.stopReason,
    ndr: goals.find((g) => g.name === ndrName) ?? null,
    pdr: goals.find((g) => g.name === pdrName) ?? null,
    minLoadPps: result.config.minLoadPps,
    maxLoadPps: result.config.maxLoadPps,
    trialCount: result.trialCount,
    trialSecondsUsed: round(result.trialSecondsUsed, 3),
    elapsedS: round(result.elapsedS, 3),
    trials: result.trials.map((t) => ({
      loadPps: round(t.loadPps, 3),
      durationS: t.durationS,
      offered: t.offeredCount,
      received: t.receivedCount,
      loss: round(t.lossRatio),
      why: t.why,
      ...directionReports(t, t.durationS),
    })),
  };
}

/** CSIT's sanity rule NDR <= PDR <= MRR, with a tolerance for noise (relative). */
export function sanityWarnings(cell: Pick<CellReport, "mrr" | "ndrpdr">, tolerance = 0.02): string[] {
  const out: string[] = [];
  const ndr = cell.ndrpdr?.ndr?.lowerBoundPps ?? null;
  const pdr = cell.ndrpdr?.pdr?.lowerBoundPps ?? null;
  const mrr = cell.mrr?.avgPps ?? null;
  if (ndr !== null && pdr !== null && ndr > pdr * (1 + tolerance)) {
    out.push(`sanity: NDR ${ndr.toFixed(0)} pps > PDR ${pdr.toFixed(0)} pps`);
  }
  if (pdr !== null && mrr !== null && pdr > mrr * (1 + tolerance)) {
    out.push(
      `sanity: PDR ${pdr.toFixed(0)} pps > MRR ${mrr.toFixed(0)} pps (MRR at max load loses more, or noise)`,
    );
  }
  return out;
}

export function frameFields(frame: FrameSize): Pick<CellReport, "frame" | "frameBytes"> {
  return { frame: frameLabel(frame), frameBytes: frame };
}

/** JSON.stringify that turns NaN/Infinity into null explicitly (it does so anyway) and is stable. */
export function toJson(report: BenchReport): string {
  return JSON.stringify(
    report,
    (_key, value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? null : value),
    2,
  );
}
