/** The one place a TG kind is chosen for the runner. */
import type { RemoteExec } from "../remote";
import type { TgSpec } from "../plan";
import { TrafgenGenerator } from "../trafgenGenerator";
import type { TgSession } from "./session";
import { TrexSession } from "./trexSession";

export interface OpenTgDeps {
  /** a session on the TG host (trafgen runs there) */
  tgExec: RemoteExec;
  /** the stack's run directory on the TG host */
  runDir: string;
  /** scripts/sched-restore.sh (ends a trafgen trial, removes its files) */
  cleanupScript: string;
}

export async function openTg(spec: TgSpec, deps: OpenTgDeps): Promise<TgSession> {
  switch (spec.kind) {
    case "trafgen":
      return new TrafgenGenerator(deps.tgExec, spec, {
        runDir: deps.runDir,
        cleanupScript: deps.cleanupScript,
      });
    case "trex":
      return TrexSession.open(spec);
    default: {
      const never: never = spec;
      throw new Error(`unknown TG kind ${JSON.stringify(never)}`);
    }
  }
}
