/**
 * Search benchmark: MLRsearch-style NDR/PDR search against RFC 2544 binary searches, on the same
 * simulated devices, several seeds each. Prints one table; runs in a few seconds (trial time is
 * virtual). Run: npm run bench:search
 */
import { runBinarySearch } from "../lib/measure/binarySearch";
import { runMlrSearch } from "../lib/measure/mlrsearch";
import { SeededRandom } from "../lib/measure/prng";
import {
  describeModel,
  referenceThroughputForTrials,
  SimulatedDevice,
  trueThroughput,
  type DeviceModel,
} from "../lib/measure/simulatedDevice";
import { maxOf, mean, minOf, sampleStdev } from "../lib/measure/stats";

const SEEDS = 40;
const MAX_LOAD_PPS = 14_880_000; // 10GE line rate at 64 B, per direction
const MIN_LOAD_PPS = 9001;
const FRAME = 64;
const PDR_LOSS = 0.005;

interface DeviceKind {
  readonly name: string;
  /** The model for one seed; capacity differs per seed so the answer never sits on a grid. */
  readonly model: (capacityPps: number) => DeviceModel;
}

const DEVICE_KINDS: readonly DeviceKind[] = [
  {
    name: "noise-free",
    model: (capacityPps) => ({
      name: "noise-free",
      capacityPps,
      noiseStdev: 0,
      burstsPerSecond: 0,
      burstStallMs: 0,
    }),
  },
  {
    name: "noisy",
    model: (capacityPps) => ({
      name: "noisy",
      capacityPps,
      noiseStdev: 0.02,
      burstsPerSecond: 0,
      burstStallMs: 0,
    }),
  },
  {
    name: "bursty",
    model: (capacityPps) => ({
      name: "bursty",
      capacityPps,
      noiseStdev: 0.005,
      burstsPerSecond: 0.02,
      burstStallMs: 10,
    }),
  },
];

/** What one method reported on one device: the lower bounds it found, and the trial time spent. */
interface MethodRun {
  readonly ndrPps: number | null;
  readonly pdrPps: number | null;
  readonly trialSeconds: number;
  /** Anything other than a normal finish, e.g. "time-limit". */
  readonly irregular: string | null;
}

interface Method {
  readonly label: string;
  readonly run: (device: SimulatedDevice) => Promise<MethodRun>;
}

function mlrMethod(label: string, durationSumS: number): Method {
  return {
    label,
    run: async (device) => {
      const goals = [
        { name: "NDR", lossRatio: 0 },
        { name: "PDR", lossRatio: PDR_LOSS },
      ].map((goal) => ({
        ...goal,
        exceedRatio: 0.5,
        relativeWidth: 0.005,
        finalTrialDurationS: 1,
        initialTrialDurationS: 1,
        durationSumS,
      }));
      const result = await runMlrSearch(device, {
        goals,
        minLoadPps: MIN_LOAD_PPS,
        maxLoadPps: MAX_LOAD_PPS,
        frame: FRAME,
      });
      const [ndr, pdr] = result.goals;
      const irregular = result.goals.find((goal) => goal.outcome !== "found")?.outcome ?? null;
      return {
        ndrPps: ndr?.relevantLowerBoundPps ?? null,
        pdrPps: pdr?.relevantLowerBoundPps ?? null,
        trialSeconds: result.trialSecondsUsed,
        irregular,
      };
    },
  };
}

function binaryMethod(label: string, trialDurationS: number): Method {
  return {
    label,
    run: async (device) => {
      const result = await runBinarySearch(device, {
        minLoadPps: MIN_LOAD_PPS,
        maxLoadPps: MAX_LOAD_PPS,
        frame: FRAME,
        trialDurationS,
        lossRatios: [0, PDR_LOSS],
        relativeWidth: 0.005,
      });
      const [ndr, pdr] = result.goals;
      const irregular = result.goals.find((goal) => goal.outcome !== "found")?.outcome ?? null;
      return {
        ndrPps: ndr?.lowerBoundPps ?? null,
        pdrPps: pdr?.lowerBoundPps ?? null,
        trialSeconds: result.trialSecondsUsed,
        irregular,
      };
    },
  };
}

const MLR_CSIT = "MLRsearch, CSIT defaults";
const BINARY_60 = "binary, 60 s trials";
const BINARY_1 = "binary, 1 s trials";
const BINARY_2 = "binary, 2 s trials";
/** The duration sums tried besides CSIT's 21 s: the time-for-confidence trade-off. */
const SHORTER_SUMS = [11, 5, 3] as const;
const mlrSumLabel = (sumS: number): string => `MLRsearch, sum ${sumS} s`;
const MLR_SHORTER = SHORTER_SUMS.map(mlrSumLabel);

const METHODS: readonly Method[] = [
  mlrMethod(MLR_CSIT, 21),
  binaryMethod(BINARY_60, 60),
  binaryMethod(BINARY_1, 1),
  binaryMethod(BINARY_2, 2),
  ...SHORTER_SUMS.map((sumS) => mlrMethod(mlrSumLabel(sumS), sumS)),
];

/** "Clearly better" than another method: rms error and both spreads at most this share of its. */
const CLEARLY_BETTER = 0.75;
/** Devices on which the comparison with 1 s binary trials is judged (as the issue asks). */
const JUDGED_DEVICES = ["noisy", "bursty"] as const;

/** Relative error in percent; a missing result (no load passed) counts as -100 %. */
function errorPercent(measured: number | null, truth: number): number {
  return measured === null ? -100 : (measured / truth - 1) * 100;
}

interface Summary {
  readonly device: string;
  readonly method: string;
  readonly trialSeconds: readonly number[];
  readonly ndrErrors: readonly number[];
  readonly pdrErrors: readonly number[];
  readonly irregular: number;
}

function capacityForSeed(seed: number): number {
  return 4e6 + 4e6 * new SeededRandom(seed * 7919).nextFloat();
}

async function benchDevice(kind: DeviceKind): Promise<Summary[]> {
  const perMethod = METHODS.map(() => ({
    trialSeconds: [] as number[],
    ndr: [] as number[],
    pdr: [] as number[],
    irregular: 0,
  }));
  for (let seed = 1; seed <= SEEDS; seed++) {
    const model = kind.model(capacityForSeed(seed));
    const trueNdr = trueThroughput(model, 0);
    const truePdr = trueThroughput(model, PDR_LOSS);
    if (trueNdr === null || truePdr === null) throw new Error(`device ${kind.name} has no true NDR/PDR`);
    for (const [index, method] of METHODS.entries()) {
      const run = await method.run(new SimulatedDevice(model, seed));
      const sink = perMethod[index];
      if (sink === undefined) continue;
      sink.trialSeconds.push(run.trialSeconds);
      sink.ndr.push(errorPercent(run.ndrPps, trueNdr));
      sink.pdr.push(errorPercent(run.pdrPps, truePdr));
      if (run.irregular !== null) sink.irregular += 1;
    }
  }
  return METHODS.map((method, index) => {
    const sink = perMethod[index] ?? { trialSeconds: [], ndr: [], pdr: [], irregular: 0 };
    return {
      device: kind.name,
      method: method.label,
      trialSeconds: sink.trialSeconds,
      ndrErrors: sink.ndr,
      pdrErrors: sink.pdr,
      irregular: sink.irregular,
    };
  });
}

function signed(value: number, digits = 2): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
}

function errorCell(errors: readonly number[]): string {
  const worst = maxOf(errors.map(Math.abs));
  return `${signed(mean(errors))} ±${sampleStdev(errors).toFixed(2)} (≤${worst.toFixed(2)})`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

function printTable(rows: readonly Summary[]): void {
  const header = [
    "device",
    "method",
    "trial-s mean [min..max]",
    "NDR err % mean ±sd (max|err|)",
    "PDR err % mean ±sd (max|err|)",
    "odd",
  ];
  const lines = rows.map((row) => [
    row.device,
    row.method,
    `${mean(row.trialSeconds).toFixed(1)} [${minOf(row.trialSeconds)}..${maxOf(row.trialSeconds)}]`,
    errorCell(row.ndrErrors),
    errorCell(row.pdrErrors),
    String(row.irregular),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => (line[column] ?? "").length)),
  );
  const render = (cells: readonly string[]): string =>
    cells.map((cell, column) => pad(cell, widths[column] ?? 0)).join(" | ");
  console.log(render(header));
  console.log(widths.map((width) => "-".repeat(width)).join("-+-"));
  let previousDevice = "";
  for (const line of lines) {
    if (line[0] === previousDevice) line[0] = "";
    else previousDevice = line[0] ?? "";
    console.log(render(line));
  }
}

function find(rows: readonly Summary[], device: string, method: string): Summary {
  const row = rows.find((candidate) => candidate.device === device && candidate.method === method);
  if (!row) throw new Error(`no row ${device}/${method}`);
  return row;
}

function rms(values: readonly number[]): number {
  return Math.sqrt(mean(values.map((value) => value * value)));
}

function printFigures(rows: readonly Summary[]): void {
  const rmsOf = (row: Summary): number => rms([...row.ndrErrors, ...row.pdrErrors]);
  const cost = (row: Summary): number => mean(row.trialSeconds);
  const lines: Array<[string, (device: string) => string]> = [
    [
      `trial-s ${MLR_CSIT} / ${BINARY_60} (target <= 0.333)`,
      (device) => (cost(find(rows, device, MLR_CSIT)) / cost(find(rows, device, BINARY_60))).toFixed(3),
    ],
    ...[MLR_CSIT, ...MLR_SHORTER, BINARY_2].map((method): [string, (device: string) => string] => [
      `trial-s ${method} / ${BINARY_1} (target <= 2)`,
      (device) => (cost(find(rows, device, method)) / cost(find(rows, device, BINARY_1))).toFixed(2),
    ]),
    ...METHODS.map((method): [string, (device: string) => string] => [
      `rms error % of ${method.label}`,
      (device) => rmsOf(find(rows, device, method.label)).toFixed(2),
    ]),
  ];
  const devices = DEVICE_KINDS.map((kind) => kind.name);
  const labelWidth = Math.max(...lines.map(([label]) => label.length));
  console.log("\nKey figures (rms: root mean square of the error over all seeds, NDR and PDR together)");
  console.log(`${pad("", labelWidth)} | ${devices.map((device) => pad(device, 10)).join(" | ")}`);
  console.log(`${"-".repeat(labelWidth)}-+-${devices.map(() => "-".repeat(10)).join("-+-")}`);
  for (const [label, cell] of lines) {
    console.log(`${pad(label, labelWidth)} | ${devices.map((device) => pad(cell(device), 10)).join(" | ")}`);
  }
}

/**
 * Least trial time any search with these goal settings can spend on NDR and PDR: a final lower
 * bound needs (1 - exceed) x sum of trial time that met the goal, a final upper bound more than
 * exceed x sum that missed it. When NDR and PDR lie further apart than the width (as on these
 * devices: PDR = NDR / 0.995 without noise), that is three loads at least, one of them serving as
 * NDR's upper and PDR's lower bound at once.
 */
function floorTrialSeconds(durationSumS: number, exceedRatio = 0.5, trialS = 1): number {
  const metNeeded = Math.ceil(((1 - exceedRatio) * durationSumS) / trialS - 1e-9) * trialS;
  const missedNeeded = (Math.floor((exceedRatio * durationSumS) / trialS + 1e-9) + 1) * trialS;
  return metNeeded + Math.max(metNeeded, missedNeeded) + missedNeeded;
}

function printVerdict(rows: readonly Summary[]): void {
  const cost = (device: string, method: string): number => mean(find(rows, device, method).trialSeconds);
  const rmsOf = (device: string, method: string): number => {
    const row = find(rows, device, method);
    return rms([...row.ndrErrors, ...row.pdrErrors]);
  };
  const spreads = (device: string, method: string): [number, number] => {
    const row = find(rows, device, method);
    return [sampleStdev(row.ndrErrors), sampleStdev(row.pdrErrors)];
  };
  const devices = DEVICE_KINDS.map((kind) => kind.name);
  console.log("\nTargets");
  const vs60 = devices.map((device) => {
    const ratio = cost(device, MLR_CSIT) / cost(device, BINARY_60);
    const asGood = rmsOf(device, MLR_CSIT) <= rmsOf(device, BINARY_60);
    return {
      device,
      ok: ratio <= 1 / 3 && asGood,
      text: `${device} ${ratio.toFixed(3)}${asGood ? "" : " (less accurate)"}`,
    };
  });
  console.log(
    `  ${MLR_CSIT} vs ${BINARY_60}: trial-s <= 1/3 at equal or better rms error: ` +
      `${vs60.every((entry) => entry.ok) ? "met" : "NOT met"} (${vs60.map((entry) => entry.text).join(", ")})`,
  );
  console.log(
    `  vs ${BINARY_1} on ${JUDGED_DEVICES.join(" and ")}: clearly better (rms error and NDR/PDR spread each <= ` +
      `${CLEARLY_BETTER} x binary's) at <= 2 x its trial-s:`,
  );
  for (const method of [MLR_CSIT, ...MLR_SHORTER]) {
    const misses: string[] = [];
    for (const device of JUDGED_DEVICES) {
      const ratio = cost(device, method) / cost(device, BINARY_1);
      if (ratio > 2) misses.push(`${device}: ${ratio.toFixed(2)} x trial-s`);
      const errorRatio = rmsOf(device, method) / rmsOf(device, BINARY_1);
      if (errorRatio > CLEARLY_BETTER) misses.push(`${device}: rms ${errorRatio.toFixed(2)} x binary's`);
      const [ndrSd, pdrSd] = spreads(device, method);
      const [binaryNdrSd, binaryPdrSd] = spreads(device, BINARY_1);
      if (ndrSd > CLEARLY_BETTER * binaryNdrSd)
        misses.push(`${device}: NDR spread ${(ndrSd / binaryNdrSd).toFixed(2)} x`);
      if (pdrSd > CLEARLY_BETTER * binaryPdrSd)
        misses.push(`${device}: PDR spread ${(pdrSd / binaryPdrSd).toFixed(2)} x`);
    }
    console.log(`    ${pad(method, 26)} ${misses.length === 0 ? "met" : `NOT met (${misses.join("; ")})`}`);
  }
  const binaryMean = mean(devices.map((device) => cost(device, BINARY_1)));
  console.log(
    `  Why CSIT's 21 s sum cannot be within 2 x: at exceed ratio 0.5 a final bound needs 11 s of trials on its own\n` +
      `  side, so NDR+PDR take at least ${floorTrialSeconds(21)} trial-s with sum 21 s ` +
      `(${floorTrialSeconds(11)} with 11 s, ${floorTrialSeconds(5)} with 5 s, ${floorTrialSeconds(3)} with 3 s), ` +
      `while the 1 s binary search took ${binaryMean.toFixed(1)} on average.\n` +
      `  The duration sum buys repeatability with trial time; matrix.ndrpdr.durationSumS sets it per stack.`,
  );
}

function printDevices(): void {
  console.log("Simulated devices (per direction; 2 directions; capacity drawn per seed in 4..8 Mpps):");
  for (const kind of DEVICE_KINDS) {
    const model = kind.model(6e6);
    const ndr = trueThroughput(model, 0) ?? NaN;
    const pdr = trueThroughput(model, PDR_LOSS) ?? NaN;
    const ref = (loss: number, truth: number): string => {
      const value = referenceThroughputForTrials(model, loss, 60, { samples: 1000, seed: 99 });
      return value === null
        ? "none (a 60 s trial misses it half the time at any load)"
        : `${signed(errorPercent(value, truth))} %`;
    };
    console.log(`  ${pad(kind.name, 10)} ${describeModel(model)}`);
    console.log(
      `  ${pad("", 10)} what 60 s trials aim at, vs true: NDR ${ref(0, ndr)}, PDR ${ref(PDR_LOSS, pdr)}`,
    );
  }
  console.log(
    "True NDR/PDR: the largest load at which at least half of all 1 s intervals meet the loss goal (0, 0.5 %)\n" +
      "(for noise-free devices: capacity and capacity / 0.995). Reported value = relevant lower bound.\n" +
      `Search: loads ${MIN_LOAD_PPS} pps .. ${MAX_LOAD_PPS / 1e6} Mpps per direction, width goal 0.5 %, ${SEEDS} seeds per device.\n` +
      "MLRsearch's first step down goes to the rate forwarded at max load; on the noise-free model that is\n" +
      "exactly the capacity, hence its exact NDR there. Binary searches ignore that rate (as RFC 2544 does).\n",
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  printDevices();
  const rows: Summary[] = [];
  for (const kind of DEVICE_KINDS) rows.push(...(await benchDevice(kind)));
  printTable(rows);
  printFigures(rows);
  printVerdict(rows);
  console.log(
    `\n("odd" = runs whose search did not end with both bounds found, e.g. min load failing; wall time ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
