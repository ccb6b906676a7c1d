/**
 * Several vring sizes in one matrix (issue 14). A virtio queue size is fixed when QEMU creates the
 * device, so the runner switches sizes by restarting the VMs with their control kit
 * (scripts/vm-ring.sh on the DUT), groups the cells by size so that each size costs one restart,
 * proves per cell what the VMs negotiated (QMP, through the kit's `show`), and puts the deployed
 * size back at the end.
 */
import type { CellSpec, VmRingSpec } from "./plan";
import type { RemoteExec } from "./remote";

/** One shell word (the control paths are allow-listed by parsePlan; quoted all the same). */
const shq = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

/** The vring state of one virtio-net device, as scripts/qmp.py `vrings` reports it. */
export interface VringState {
  rx: number | null;
  tx: number | null;
  rxMax: number | null;
  txMax: number | null;
  vhostStarted: boolean;
}

/** What a cell records about its vring size: asked, and what every VM's devices negotiated. */
export interface CellVringProof {
  asked: number;
  /** per VM (vm1, vm2, ...): device -> state; null when the VM could not be asked */
  negotiated: Record<string, Record<string, VringState> | null>;
  /** every device of every VM runs vhost with rx = tx = asked */
  ok: boolean;
  /** why not, one line per device */
  problems: string[];
  /** the VMs were restarted for this size before the cell (seconds, all VMs), or null */
  restartS: number | null;
}

/**
 * The cells in the order they run: grouped by vring size, the deployed size first (no restart),
 * the others in the order they first appear; within a group the plan's order is kept.
 */
export function orderByVring(cells: readonly CellSpec[], deployed: number): CellSpec[] {
  const sizes = [...new Set(cells.map((c) => c.vringSize))];
  sizes.sort((a, b) => (a === deployed ? -1 : b === deployed ? 1 : 0));
  return sizes.flatMap((size) => cells.filter((c) => c.vringSize === size));
}

/** Checks the negotiated sizes of one VM's devices against the asked size. */
export function vringProblems(
  vm: string,
  asked: number,
  devices: Record<string, VringState> | null,
): string[] {
  if (devices === null) return [`${vm}: negotiated vring sizes not readable`];
  const names = Object.keys(devices).sort();
  if (names.length === 0) return [`${vm}: no virtio-net device reported`];
  const out: string[] = [];
  for (const dev of names) {
    const d = devices[dev]!;
    if (!d.vhostStarted) out.push(`${vm} ${dev}: vhost not started`);
    else if (d.rx !== asked || d.tx !== asked)
      out.push(`${vm} ${dev}: negotiated rx ${d.rx} tx ${d.tx}, asked ${asked}`);
  }
  return out;
}

/** The last JSON line of a kit command's stdout. */
function lastJson(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split("\n");
  try {
    const v: unknown = JSON.parse(lines[lines.length - 1] ?? "");
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function devicesOf(doc: Record<string, unknown> | null): Record<string, VringState> | null {
  const v = doc?.["vringSizes"];
  if (typeof v !== "object" || v === null) return null;
  const out: Record<string, VringState> = {};
  const num = (x: unknown): number | null => (typeof x === "number" ? x : null);
  for (const [dev, s] of Object.entries(v as Record<string, Record<string, unknown>>)) {
    out[dev] = {
      rx: num(s?.["rx"]),
      tx: num(s?.["tx"]),
      rxMax: num(s?.["rxMax"]),
      txMax: num(s?.["txMax"]),
      vhostStarted: s?.["vhostStarted"] === true,
    };
  }
  return out;
}

const vmName = (i: number): string => `vm${i + 1}`;

/** Switches the VMs of one DUT between vring sizes; knows the size they run now. */
export class VmRingController {
  private current: number;
  constructor(
    private readonly dut: RemoteExec,
    private readonly spec: VmRingSpec,
    private readonly log: (msg: string) => void,
  ) {
    this.current = spec.deployed;
  }

  get running(): number {
    return this.current;
  }

  /** Restarts every VM at `size` unless they run it; returns the seconds it took, or null. */
  async ensure(size: number): Promise<number | null> {
    if (size === this.current) return null;
    const t = Date.now();
    this.log(`vring ${this.current} -> ${size}: restarting ${this.spec.controls.length} VM(s) (a boot each)`);
    // the size is unknown while a restart runs: a failure leaves it so (restore() tries again)
    this.current = Number.NaN;
    for (const [i, control] of this.spec.controls.entries()) {
      const r = await this.dut.run(`bash ${shq(control)} set ${String(size)}`, { timeoutMs: 20 * 60_000 });
      if (r.code !== 0) {
        throw new Error(
          `${vmName(i)} did not restart with vring size ${size} (exit ${r.code}): ${lastLine(r.stderr)}`,
        );
      }
    }
    this.current = size;
    const s = Math.round((Date.now() - t) / 100) / 10;
    this.log(`vring ${size}: VMs up again after ${s}s`);
    return s;
  }

  /** What every VM negotiated now, checked against `asked`. */
  async prove(asked: number, restartS: number | null): Promise<CellVringProof> {
    const negotiated: CellVringProof["negotiated"] = {};
    const problems: string[] = [];
    for (const [i, control] of this.spec.controls.entries()) {
      const r = await this.dut.run(`bash ${shq(control)} show`, { timeoutMs: 60_000 });
      const devices = r.code === 0 ? devicesOf(lastJson(r.stdout)) : null;
      negotiated[vmName(i)] = devices;
      problems.push(...vringProblems(vmName(i), asked, devices));
    }
    return { asked, negotiated, ok: problems.length === 0, problems, restartS };
  }

  /** Puts the deployed size back (the end of the run); a note for the report, or null. */
  async restore(): Promise<string | null> {
    if (this.current === this.spec.deployed) return null;
    await this.ensure(this.spec.deployed);
    return `VMs restarted at their deployed vring size ${this.spec.deployed}`;
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}
