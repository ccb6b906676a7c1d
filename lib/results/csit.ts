/**
 * One CSIT-shaped record per test of a run: test id and tags the way CSIT names them (lower-case
 * id such as 64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-mrr, upper-case tags such as MRR, NDRPDR,
 * 1C, 64B, VHOST, VHOST_1024, 1VM), result type, MRR receive rates, NDR/PDR lower and upper
 * bounds in pps and L1 bps. Pure.
 */
import { l1BitsPerSecond, type FrameSize } from "../measure/units";
import type { CellReport, GoalReport } from "../bench/report";
import type { BoundsRecord, CellOrigin, CsitRecord, StoredRunDoc } from "./types";

function frameOf(cell: CellReport): FrameSize {
  return cell.frameBytes;
}

/** CSIT's tags for a test of this lab's cells. */
export function csitTags(cell: CellReport, testType: "mrr" | "ndrpdr", naming: NamingLike): string[] {
  const tags = [
    testType.toUpperCase(),
    cell.frame.toUpperCase(),
    `${naming.cores}C`,
    `${naming.cores}T${naming.cores}C`,
    "ETH",
    naming.forwarding.toUpperCase(),
    "VHOST",
    `VHOST_${cell.vringSize}`,
    `${naming.vms}VM`,
    cell.policy.toUpperCase(),
  ];
  if (cell.directions === 1) tags.push("UNIDIR");
  return tags;
}

export interface NamingLike {
  cores: number;
  forwarding: string;
  vms: number;
}

function bounds(goal: GoalReport | null, directions: number, frame: FrameSize): BoundsRecord {
  // upperBoundPps is per direction in the runner's document; records are aggregate like CSIT's
  const upper = goal?.upperBoundPps === null || goal === null ? null : goal.upperBoundPps * directions;
  const l1 = (pps: number | null): number | null =>
    pps === null ? null : Math.round(l1BitsPerSecond(pps, frame));
  return {
    lower: {
      rate: { value: goal?.lowerBoundPps ?? null, unit: "pps" },
      bandwidth: { value: goal?.lowerBoundL1Bps ?? null, unit: "bps" },
    },
    upper: { rate: { value: upper, unit: "pps" }, bandwidth: { value: l1(upper), unit: "bps" } },
  };
}

function namingOf(doc: StoredRunDoc): NamingLike {
  const plan = (doc.facts as { plan?: { naming?: NamingLike } }).plan;
  return plan?.naming ?? { cores: 1, forwarding: "l2xcbase", vms: 1 };
}

export function csitRecords(doc: StoredRunDoc): CsitRecord[] {
  const naming = namingOf(doc);
  const out: CsitRecord[] = [];
  for (const cell of doc.cells) {
    const origin: CellOrigin = doc.results?.origins[cell.name] ?? { key: "", runId: "", reused: false };
    const frame = frameOf(cell);
    const base = {
      start_time: cell.startedAt,
      duration: cell.durationS,
      passed: cell.error === undefined,
      message: [cell.error, ...cell.warnings].filter(Boolean).join("; "),
      dut_type: "testpmd",
      tg_type: doc.tg.kind,
      vpl: {
        cell: cell.name,
        key: origin.key,
        runId: origin.runId,
        reused: origin.reused,
        policy: cell.policy,
      },
    };
    if (cell.mrr) {
      out.push({
        ...base,
        test_id: cell.mrr.testName.toLowerCase(),
        test_name_long: cell.mrr.testName,
        test_type: "mrr",
        tags: csitTags(cell, "mrr", naming),
        result: {
          type: "mrr",
          receive_rate: {
            rate: {
              values: cell.mrr.trials.map((t) => t.pps),
              avg: cell.mrr.avgPps,
              stdev: cell.mrr.stdevPps,
              unit: "pps",
            },
            bandwidth: { avg: cell.mrr.l1Bps, unit: "bps" },
          },
        },
      });
    }
    if (cell.ndrpdr) {
      out.push({
        ...base,
        test_id: cell.ndrpdr.testName.toLowerCase(),
        test_name_long: cell.ndrpdr.testName,
        test_type: "ndrpdr",
        tags: csitTags(cell, "ndrpdr", naming),
        result: {
          type: "ndrpdr",
          ndr: bounds(cell.ndrpdr.ndr, cell.directions, frame),
          pdr: bounds(cell.ndrpdr.pdr, cell.directions, frame),
        },
      });
    }
  }
  return out;
}
