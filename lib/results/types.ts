/**
 * The result store's shapes: what is kept per run (the runner's full document, the setup facts,
 * one CSIT-shaped record per test) and what the report is built from. Pure types.
 */
import type { BenchReport, CellReport } from "../bench/report";

/** The facts of a run's setup that decide whether a measured cell can be reused. */
export interface SetupFacts {
  kernel: string | null;
  cmdline: string | null;
  qemu: { version: string | null; patches: string[] };
  accel: string | null;
  /** negotiated vring sizes as the VM launcher read them, per VM */
  vringSizes: unknown[];
  /** CPU roles of the DUT (housekeeping, vswitch workers, vCPUs) */
  cpus: Record<string, unknown>;
  tg: { kind: string; directions: number; maxLoadPps: number | null };
  vswitch: { kind: string; options: Record<string, unknown> };
}

/** Where a cell's result came from: measured in this run, or kept from an earlier one. */
export interface CellOrigin {
  key: string;
  /** the run that measured it */
  runId: string;
  reused: boolean;
}

/** The runner's document plus what the store adds. */
export interface StoredRunDoc extends BenchReport {
  results?: {
    runId: string;
    stack: string;
    /** per cell name */
    origins: Record<string, CellOrigin>;
    setup: SetupFacts;
    /**
     * The running datapath this run measured: the DUT's boot id and the vswitch and VM
     * processes. A result is reused only on the same datapath (a redeployed VM or vswitch, or a
     * reboot, measures again); runs are compared across datapaths by the cell key.
     */
    datapath?: string;
    reportPath: string;
    storeDir: string;
  };
}

export interface LatencyRecord {
  load: string;
  direction: "forward" | "reverse";
  minUs: number;
  avgUs: number;
  maxUs: number;
}

/** One test as CSIT records it (model 1.x test_case shape, the fields this lab can fill). */
export interface CsitRecord {
  test_id: string;
  test_name_long: string;
  test_type: "mrr" | "ndrpdr";
  tags: string[];
  start_time: string;
  duration: number;
  passed: boolean;
  message: string;
  dut_type: string;
  tg_type: string;
  result:
    | {
        type: "mrr";
        receive_rate: {
          rate: { values: number[]; avg: number; stdev: number; unit: "pps" };
          bandwidth: { avg: number; unit: "bps" };
        };
      }
    | {
        type: "ndrpdr";
        ndr: BoundsRecord;
        pdr: BoundsRecord;
        latency?: LatencyRecord[];
      };
  /** this lab's additions: the cell key and whether the result was reused */
  vpl: { cell: string; key: string; runId: string; reused: boolean; policy: string };
}

export interface BoundsRecord {
  lower: { rate: { value: number | null; unit: "pps" }; bandwidth: { value: number | null; unit: "bps" } };
  upper: { rate: { value: number | null; unit: "pps" }; bandwidth: { value: number | null; unit: "bps" } };
}

export interface RunSummary {
  runId: string;
  startedAt: string;
  ok: boolean;
  cells: number;
  reused: number;
}

export type { BenchReport, CellReport };
