/**
 * Search goals and search settings, with CSIT's defaults. A goal says what "good enough" means
 * for one throughput figure (NDR: no loss; PDR: at most 0.5 % loss) and how sure and how precise
 * the search must be about it.
 */
import { DEFAULT_SHORTFALL_TOLERANCE } from "../trafficGenerator";
import type { FrameSize } from "../units";

export interface SearchGoal {
  /** Label used in results, e.g. "NDR". */
  readonly name: string;
  /** A trial meets the goal when its loss ratio is at most this. */
  readonly lossRatio: number;
  /**
   * Share of the trial time that may miss the loss goal while the load still counts as meeting
   * it. 0.5 means: a load meets the goal when at least half of its trial time met the loss goal.
   */
  readonly exceedRatio: number;
  /** Stop when (upper bound - lower bound) / upper bound is at most this. */
  readonly relativeWidth: number;
  /** Duration of the trials that decide the final bounds. */
  readonly finalTrialDurationS: number;
  /** Trial time a load needs (at the final duration) before it is trusted as a final bound. */
  readonly durationSumS: number;
  /** Trial duration of the coarsest phase (equal to the final one in CSIT). */
  readonly initialTrialDurationS: number;
}

/** What to do when the generator did not send what was asked. */
export type ShortfallPolicy =
  /** End the search and report it (default): the lab needs fixing, or a lower max load. */
  | "stop"
  /** Keep searching, counting the packets never sent as lost, so such a load cannot pass. */
  | "count-as-loss";

export interface SearchConfig {
  readonly goals: readonly SearchGoal[];
  /** Loads are per direction, pps. */
  readonly minLoadPps: number;
  readonly maxLoadPps: number;
  readonly frame: FrameSize;
  /** The search never starts a trial that would end past this many seconds. */
  readonly timeLimitS: number;
  /** Coarser phases before the final one. */
  readonly intermediatePhases: number;
  /** Each phase before the next is this much wider and needs this much less trial time. */
  readonly phaseScale: number;
  readonly shortfallTolerance: number;
  readonly onGeneratorShortfall: ShortfallPolicy;
}

const CSIT_GOAL_SHAPE = {
  exceedRatio: 0.5,
  relativeWidth: 0.005,
  finalTrialDurationS: 1,
  durationSumS: 21,
  initialTrialDurationS: 1,
} as const;

export const NDR_GOAL: SearchGoal = { name: "NDR", lossRatio: 0, ...CSIT_GOAL_SHAPE };
export const PDR_GOAL: SearchGoal = { name: "PDR", lossRatio: 0.005, ...CSIT_GOAL_SHAPE };

export const SEARCH_DEFAULTS = {
  goals: [NDR_GOAL, PDR_GOAL],
  minLoadPps: 9001,
  timeLimitS: 1200,
  intermediatePhases: 2,
  phaseScale: 4,
  shortfallTolerance: DEFAULT_SHORTFALL_TOLERANCE,
  onGeneratorShortfall: "stop",
} as const;

/** The configuration is unusable; the message lists every problem found. */
export class SearchConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid search configuration: ${problems.join("; ")}`);
    this.name = "SearchConfigError";
  }
}

export type SearchConfigInput = Partial<SearchConfig> & Pick<SearchConfig, "maxLoadPps" | "frame">;

function goalProblems(goal: SearchGoal): string[] {
  const problems: string[] = [];
  const where = `goal "${goal.name}"`;
  if (!(goal.lossRatio >= 0 && goal.lossRatio < 1)) problems.push(`${where}: lossRatio must be in [0, 1)`);
  if (!(goal.exceedRatio >= 0 && goal.exceedRatio < 1))
    problems.push(`${where}: exceedRatio must be in [0, 1)`);
  if (!(goal.relativeWidth >= 1e-6 && goal.relativeWidth < 1)) {
    problems.push(`${where}: relativeWidth must be in [1e-6, 1)`);
  }
  if (!(goal.finalTrialDurationS > 0)) problems.push(`${where}: finalTrialDurationS must be > 0`);
  if (!(goal.initialTrialDurationS > 0 && goal.initialTrialDurationS <= goal.finalTrialDurationS)) {
    problems.push(`${where}: initialTrialDurationS must be in (0, finalTrialDurationS]`);
  }
  if (!(goal.durationSumS >= goal.finalTrialDurationS)) {
    problems.push(`${where}: durationSumS must be >= finalTrialDurationS`);
  }
  return problems;
}

/** Fills in CSIT's defaults and checks everything; throws SearchConfigError listing all problems. */
export function makeSearchConfig(input: SearchConfigInput): SearchConfig {
  const config: SearchConfig = { ...SEARCH_DEFAULTS, ...input };
  const problems: string[] = [];
  if (config.goals.length === 0) problems.push("at least one goal is needed");
  for (const goal of config.goals) problems.push(...goalProblems(goal));
  const names = new Set(config.goals.map((goal) => goal.name));
  if (names.size !== config.goals.length) problems.push("goal names must be unique");
  if (!(config.minLoadPps > 0)) problems.push("minLoadPps must be > 0");
  if (!(config.maxLoadPps >= config.minLoadPps) || !Number.isFinite(config.maxLoadPps)) {
    problems.push("maxLoadPps must be finite and >= minLoadPps");
  }
  if (!(config.timeLimitS > 0)) problems.push("timeLimitS must be > 0");
  if (!Number.isInteger(config.intermediatePhases) || config.intermediatePhases < 0) {
    problems.push("intermediatePhases must be a whole number >= 0");
  }
  if (!(config.phaseScale > 1)) problems.push("phaseScale must be > 1");
  if (!(config.shortfallTolerance >= 0 && config.shortfallTolerance < 1)) {
    problems.push("shortfallTolerance must be in [0, 1)");
  }
  if (config.onGeneratorShortfall !== "stop" && config.onGeneratorShortfall !== "count-as-loss") {
    problems.push(`onGeneratorShortfall must be "stop" or "count-as-loss"`);
  }
  if (problems.length > 0) throw new SearchConfigError(problems);
  return config;
}
