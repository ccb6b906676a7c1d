/** All trial outcomes of one search, grouped by intended load. */

/** The part of a trial the search decides on. */
export interface LoadTrial {
  readonly durationS: number;
  /** Loss ratio the search uses (the generator's, or of the intended count under "count-as-loss"). */
  readonly lossRatio: number;
  /** Received packets per second per direction. */
  readonly forwardingRatePps: number;
}

export class TrialDatabase {
  private readonly byLoad = new Map<number, LoadTrial[]>();

  add(loadPps: number, trial: LoadTrial): void {
    const trials = this.byLoad.get(loadPps);
    if (trials) trials.push(trial);
    else this.byLoad.set(loadPps, [trial]);
  }

  trialsAt(loadPps: number): readonly LoadTrial[] {
    return this.byLoad.get(loadPps) ?? [];
  }

  has(loadPps: number): boolean {
    return this.byLoad.has(loadPps);
  }

  /** Measured loads, ascending. */
  loads(): number[] {
    return [...this.byLoad.keys()].sort((a, b) => a - b);
  }
}
