export { makeSearchConfig, NDR_GOAL, PDR_GOAL, SEARCH_DEFAULTS, SearchConfigError } from "./config";
export type { SearchConfig, SearchConfigInput, SearchGoal, ShortfallPolicy } from "./config";
export type { GoalOutcome, GoalResult, SearchResult, StopReason, TrialLogEntry } from "./result";
export { runMlrSearch, type SearchOptions } from "./search";
