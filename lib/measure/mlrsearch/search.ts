/**
 * The MLRsearch-style controller: several loss goals searched together, coarse phases first,
 * one trial at a time, until every goal's final phase is satisfied or a limit is hit.
 */
import { confirmedClassifier, relevantBounds, workingClassifier } from "./bounds";
import { makeSearchConfig, type SearchConfig, type SearchConfigInput, type SearchGoal } from "./config";
import { conditionalThroughputPps } from "./conditionalThroughput";
import { nextStep, type MeasureStep, type NextStep } from "./nextLoad";
import { planPhases, type PhaseTarget } from "./phases";
import type { GoalOutcome, GoalResult, SearchResult, StopReason, TrialLogEntry } from "./result";
import { TrialDatabase } from "./trialDatabase";
import { runTrial, shortfallOf, type ShortfallReport, type TrafficGenerator } from "../trafficGenerator";
import { rateOf, relativeWidth, type FrameSize } from "../units";

export interface SearchOptions {
  /**
   * Seconds since some fixed point, for real generators whose trials carry overhead. Without it,
   * time is the sum of trial durations (what a simulated device uses).
   */
  readonly clock?: () => number;
  /** Called after every trial (progress output). */
  readonly onTrial?: (entry: TrialLogEntry) => void;
}

interface PickedStep {
  readonly step: MeasureStep;
  readonly goal: GoalState;
}

interface GoalState {
  readonly goal: SearchGoal;
  readonly targets: readonly PhaseTarget[];
  phase: number;
}

/** Advances the goal through finished phases and returns what it needs next. */
function advance(state: GoalState, database: TrialDatabase, config: SearchConfig): NextStep {
  const limits = { minLoadPps: config.minLoadPps, maxLoadPps: config.maxLoadPps };
  for (;;) {
    const step = nextStep(database, state.targets, state.phase, limits);
    const isLast = state.phase === state.targets.length - 1;
    if (step.kind === "done" && !isLast) {
      state.phase += 1;
      continue;
    }
    return step;
  }
}

/** The measure step to run: the coarsest phase first, then the lowest load; null if all done. */
function pickStep(states: readonly GoalState[], steps: readonly NextStep[]): PickedStep | null {
  let best: PickedStep | null = null;
  for (const [index, step] of steps.entries()) {
    const goal = states[index];
    if (step.kind !== "measure" || goal === undefined) continue;
    const better =
      best === null ||
      goal.phase < best.goal.phase ||
      (goal.phase === best.goal.phase && step.loadPps < best.step.loadPps);
    if (better) best = { step, goal };
  }
  return best;
}

function outcomeOf(step: NextStep, stopReason: StopReason): GoalOutcome {
  if (step.kind === "done") return step.outcome;
  if (stopReason === "goals-reached")
    throw new Error("unreachable: unfinished goal after all goals were reached");
  return stopReason;
}

function goalResult(
  state: GoalState,
  database: TrialDatabase,
  step: NextStep,
  stopReason: StopReason,
  frame: FrameSize,
  directions: number,
): GoalResult {
  const finalTarget = state.targets[state.targets.length - 1] as PhaseTarget;
  const loads = database.loads();
  const bounds = relevantBounds(loads, confirmedClassifier(database, finalTarget));
  const working = relevantBounds(loads, workingClassifier(database, state.targets, state.phase));
  const lower = bounds.lowerPps;
  const conditional =
    lower === null ? null : conditionalThroughputPps(lower, database.trialsAt(lower), finalTarget);
  return {
    goal: state.goal,
    outcome: outcomeOf(step, stopReason),
    relevantLowerBoundPps: lower,
    relevantUpperBoundPps: bounds.upperPps,
    conditionalThroughputPps: conditional,
    relativeWidth: lower !== null && bounds.upperPps !== null ? relativeWidth(lower, bounds.upperPps) : null,
    aggregateLowerBound: lower === null ? null : rateOf(lower * directions, frame),
    aggregateConditionalThroughput: conditional === null ? null : rateOf(conditional * directions, frame),
    reachedPhase: state.phase,
    workingLowerBoundPps: working.lowerPps,
    workingUpperBoundPps: working.upperPps,
  };
}

/** Runs the search. Throws SearchConfigError for a bad configuration; every other end is in the result. */
export async function runMlrSearch(
  generator: TrafficGenerator,
  input: SearchConfigInput | SearchConfig,
  options: SearchOptions = {},
): Promise<SearchResult> {
  const config = makeSearchConfig(input);
  const database = new TrialDatabase();
  const states: GoalState[] = config.goals.map((goal) => ({
    goal,
    targets: planPhases(goal, config.intermediatePhases, config.phaseScale),
    phase: 0,
  }));
  const clock = options.clock;
  const startedAt = clock ? clock() : 0;
  let trialSecondsUsed = 0;
  const elapsed = (): number => (clock ? clock() - startedAt : trialSecondsUsed);
  const trials: TrialLogEntry[] = [];
  const shortfalls: ShortfallReport[] = [];
  let stopReason: StopReason;

  for (;;) {
    const steps = states.map((state) => advance(state, database, config));
    const picked = pickStep(states, steps);
    if (picked === null) {
      stopReason = "goals-reached";
      break;
    }
    const { step, goal } = picked;
    if (elapsed() + step.durationS > config.timeLimitS) {
      stopReason = "time-limit";
      break;
    }
    const record = await runTrial(
      generator,
      { loadPps: step.loadPps, durationS: step.durationS, frame: config.frame },
      config.shortfallTolerance,
    );
    trialSecondsUsed += record.durationS;
    const lossRatio =
      config.onGeneratorShortfall === "count-as-loss" ? record.lossRatioOfIntended : record.lossRatio;
    database.add(step.loadPps, {
      durationS: record.durationS,
      lossRatio,
      forwardingRatePps: record.forwardingRatePps,
    });
    const entry: TrialLogEntry = {
      index: trials.length,
      loadPps: record.loadPps,
      durationS: record.durationS,
      offeredCount: record.offeredCount,
      receivedCount: record.receivedCount,
      lossRatio,
      generatorShortfall: record.generatorShortfall,
      why: `${goal.goal.name} phase ${goal.phase}: ${step.why}`,
      ...(record.perDirection ? { perDirection: record.perDirection } : {}),
    };
    trials.push(entry);
    options.onTrial?.(entry);
    if (record.generatorShortfall) {
      shortfalls.push(shortfallOf(record));
      if (config.onGeneratorShortfall === "stop") {
        stopReason = "generator-shortfall";
        break;
      }
    }
  }

  // Judge every goal on all the data, including the last trial.
  const finalSteps = states.map((state) => advance(state, database, config));
  return {
    config,
    directions: generator.directions,
    stopReason,
    goals: states.map((state, index) =>
      goalResult(
        state,
        database,
        finalSteps[index] as NextStep,
        stopReason,
        config.frame,
        generator.directions,
      ),
    ),
    trialSecondsUsed,
    elapsedS: elapsed(),
    trialCount: trials.length,
    shortfalls,
    trials,
  };
}
