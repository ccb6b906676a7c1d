/** The program's part of a run's setup facts, carried to the runner in plan.facts.setup. Pure. */
import type { BenchPlan } from "../bench/plan";
import type { PlannedSetup } from "./session";

export function withSetupFacts(plan: BenchPlan, setup: PlannedSetup): BenchPlan {
  return { ...plan, facts: { ...plan.facts, setup } };
}
