/** CSIT-style test names, the expanded matrix, and rate limits derived from the lab. */
import { IMIX_MEAN_BYTES } from "./defaults";
import type { CfsPolicy, Frame, Host, Lab, TestType } from "./types";

export interface MatrixCell {
  dut: string;
  frame: Frame;
  vringSize: number;
  cfs: CfsPolicy;
  test: TestType;
  /** e.g. 64b-1c-eth-l2xcbase-eth-2vhostvr1024-1vm-cfsrr1-mrr */
  name: string;
}

export const frameTag = (f: Frame): string => (f === "imix" ? "imix" : `${f}b`);

/** Mean L2 frame size in bytes (IMIX_v4_1: 28x64 + 16x570 + 4x1518). */
export const frameBytes = (f: Frame): number => (f === "imix" ? IMIX_MEAN_BYTES : f);

/** Physical cores given to the vswitch workers ("1c"). */
export function vswitchCores(h: Host): number {
  return Math.max(1, Math.ceil(h.cpus.vswitch.length / h.cpus.threadsPerCore));
}

/** The forwarding part of the name: l2xcbase for a cross-connect, l2bdbasemaclrn for a learning bridge. */
export function forwardingTag(lab: Lab): string {
  return lab.vswitch.kind === "vpp" && lab.vswitch.options.mode === "l2bd" ? "l2bdbasemaclrn" : "l2xcbase";
}

export function testName(
  lab: Lab,
  dut: Host,
  cell: { frame: Frame; vringSize: number; cfs: CfsPolicy; test: TestType },
): string {
  const vms = lab.vms.count;
  return [
    frameTag(cell.frame),
    `${vswitchCores(dut)}c`,
    "eth",
    forwardingTag(lab),
    "eth",
    `${2 * vms}vhostvr${cell.vringSize}`,
    `${vms}vm`,
    ...(cell.cfs === "cfsrr1" ? ["cfsrr1"] : []),
    cell.test,
  ].join("-");
}

/** NIC part of a CSIT suite name: 10ge2p1x710; "veth2p" for the local lab's virtual ports. */
export function nicTag(h: Host): string {
  const first = h.nics[0];
  if (!first) return "noport";
  if (first.kind === "veth") return `veth${h.nics.length}p`;
  return `${first.speedGbps}ge${h.nics.length}p1${first.model}`;
}

/** Every test of the matrix, per DUT, in a stable order: frame, vring, cfs policy, test type. */
export function expandMatrix(lab: Lab): MatrixCell[] {
  const m = lab.matrix;
  const cells: MatrixCell[] = [];
  for (const dut of lab.hosts.filter((h) => h.roles.includes("dut"))) {
    for (const frame of m.frames)
      for (const vringSize of m.vringSizes)
        for (const cfs of m.cfsPolicies)
          for (const test of m.tests) {
            const cell = { frame, vringSize, cfs, test };
            cells.push({ dut: dut.name, ...cell, name: testName(lab, dut, cell) });
          }
  }
  return cells;
}

/** Ethernet line rate in packets/s per direction: speed / ((frame + 20 B preamble and gap) x 8). */
export function lineRatePps(speedGbps: number, frame: Frame): number {
  return (speedGbps * 1e9) / ((frameBytes(frame) + 20) * 8);
}

/** L1 bits/s of a packet rate (CSIT's bps unit). */
export function l1Bps(pps: number, frame: Frame): number {
  return pps * (frameBytes(frame) + 20) * 8;
}

/**
 * The NDR/PDR search's max load per direction for a frame: matrix.ndrpdr.maxLoadPps if set,
 * trafgen's accurate ceiling, or the line rate of the slowest port between TG and DUT.
 */
export function maxLoadPps(lab: Lab, frame: Frame): number {
  const set = lab.matrix.ndrpdr.maxLoadPps;
  if (set !== undefined) return set;
  if (lab.tg.kind === "trafgen") return lab.tg.options.maxRatePps;
  const speeds = lab.hosts
    .filter((h) => h.roles.includes("dut") || h.name === lab.tg.host)
    .flatMap((h) => h.nics.flatMap((n) => (n.kind === "pci" ? [n.speedGbps] : [])));
  return lineRatePps(speeds.length ? Math.min(...speeds) : 10, frame);
}

/** Upper bound of the matrix's run time in seconds (MRR trials + each NDR/PDR search's time limit). */
export function matrixBudgetS(lab: Lab): number {
  const { mrr, ndrpdr } = lab.matrix;
  return expandMatrix(lab).reduce(
    (s, c) => s + (c.test === "mrr" ? mrr.trials * mrr.trialDurationS : ndrpdr.timeLimitS),
    0,
  );
}
