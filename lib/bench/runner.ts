/**
 * The benchmark runner: for every cell of the plan, check the frame, probe the path, apply the
 * cell's scheduling policy, run MRR and/or NDR/PDR, and always revert the scheduling changes.
 * I/O goes through RemoteExec (SSH or local); everything printed goes through `log`.
 *
 * Interrupts (deps.signal: SIGINT, SIGTERM, the time limit) abandon whatever is awaited at once;
 * then, before runBench returns: the scheduling record is restored (threads, RT runtime), the
 * running trafgen trial and its qdisc are stopped, and the runner's files under
 * /run/vhost-perf-lab/<stack>/ are removed. Restoring reads the record the runner wrote on the
 * host before any change, with scripts/sched-restore.sh, so it is the same code a destroy runs
 * after a runner was killed.
 */
import { orderByVring, VmRingController, type CellVringProof } from "./vmRing";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { measureMrr } from "../measure/mrr";
import { makeSearchConfig, NDR_GOAL, PDR_GOAL, runMlrSearch, type SearchGoal } from "../measure/mlrsearch";
import type { TrafficGenerator, TrialCounts, TrialRequest } from "../measure/trafficGenerator";
import { formatPps, frameLabel, type FrameSize } from "../measure/units";
import { AbortedError, abortable, abortReason } from "./abort";
import { calibrateTg } from "./calibrate";
import {
  cellBaseName,
  hostPaths,
  maxFrameBytes,
  redactPlan,
  RUN_ROOT,
  testName,
  type BenchPlan,
  type CellSpec,
  type HostPaths,
} from "./plan";
import { runChecked, shQuote, type RemoteExec } from "./remote";
import {
  frameFields,
  sanityWarnings,
  shapeMrr,
  shapeNdrPdr,
  type BenchReport,
  type CellReport,
} from "./report";
import { cellSchedReport, SchedController, type AppliedCfsrr1 } from "./schedPolicy";
import { openTg } from "./tg/open";
import { UnsupportedFrameError, type TgSession } from "./tg/session";
import { counterReader, type CounterReader, type PortStats } from "./vswitchCounters";

export interface HostSource {
  get(name: string): Promise<RemoteExec>;
  closeAll(): Promise<void>;
}

export interface RunnerDeps {
  hosts: HostSource;
  /** progress lines (stderr in the CLI) */
  log: (line: string) => void;
  signal?: AbortSignal;
  /** dpdk_telemetry.py source, for per-cell vswitch counters; null to skip */
  telemetryClient?: string | null;
  /** probe trial before each cell (default: 1000 pps for 1 s); null to skip */
  probe?: { loadPps: number; durationS: number } | null;
  /** scripts/sched-restore.sh; default: found beside the runner (findScript) */
  restoreScript?: string | null;
}

export { AbortedError } from "./abort";

/** Wraps a generator: abort check before, progress callback after every trial. */
class ObservedGenerator implements TrafficGenerator {
  onTrial: ((request: TrialRequest, counts: TrialCounts) => void) | null = null;
  constructor(
    private readonly inner: TrafficGenerator,
    private readonly signal?: AbortSignal,
  ) {}
  get directions(): number {
    return this.inner.directions;
  }
  async runTrial(request: TrialRequest): Promise<TrialCounts> {
    if (this.signal?.aborted) throw new AbortedError(abortReason(this.signal));
    const counts = await this.inner.runTrial(request);
    this.onTrial?.(request, counts);
    return counts;
  }
}

/** Text of scripts/<name>, found from the compiled file's location or the working directory. */
export function findScript(name: string, start = __dirname): string | null {
  const candidates: string[] = [];
  if (process.env.VPL_SCRIPTS_DIR) candidates.push(join(process.env.VPL_SCRIPTS_DIR, name));
  let dir = resolve(start);
  for (let i = 0; i < 6; i++) {
    candidates.push(join(dir, "scripts", name));
    dir = dirname(dir);
  }
  candidates.push(join(process.cwd(), "scripts", name));
  for (const c of candidates) if (existsSync(c)) return readFileSync(c, "utf8");
  return null;
}

/** scripts/dpdk_telemetry.py (per-cell vswitch counters). */
export function findTelemetryClient(start = __dirname): string | null {
  return findScript("dpdk_telemetry.py", start);
}

/**
 * The stack's run directory on a host: created if missing (each level it creates is listed, so
 * that the runner removes exactly those at its end, when empty).
 */
async function prepareRunDir(exec: RemoteExec, paths: HostPaths): Promise<string[]> {
  const levels = [RUN_ROOT, paths.runDir];
  const script = [
    "set -eu",
    ...levels.map((d) => `if [ ! -d ${shQuote(d)} ]; then mkdir ${shQuote(d)} && echo ${shQuote(d)}; fi`),
  ].join("\n");
  const r = await runChecked(exec, `creating ${paths.runDir}`, "bash -s", {
    stdin: script,
    timeoutMs: 15000,
  });
  return r.stdout.split("\n").filter((l) => levels.includes(l));
}

/** Removes the run directory levels this run created, deepest first, when they are empty. */
async function removeCreatedDirs(exec: RemoteExec, created: readonly string[]): Promise<void> {
  if (created.length === 0) return;
  const dirs = [...created].sort((a, b) => b.length - a.length).map(shQuote);
  await exec.run(`for d in ${dirs.join(" ")}; do rmdir "$d" 2>/dev/null || true; done`, { timeoutMs: 15000 });
}

function portDeltas(before: PortStats[], after: PortStats[]): NonNullable<CellReport["vswitchPorts"]> {
  return after.map((a) => {
    const b = before.find((p) => p.id === a.id);
    const d = (key: string): number => (a.stats[key] ?? 0) - (b?.stats[key] ?? 0);
    return {
      id: a.id,
      name: a.name,
      rx: d("ipackets"),
      tx: d("opackets"),
      missed: d("imissed"),
      rxErrors: d("ierrors"),
      txErrors: d("oerrors"),
    };
  });
}

async function hostFacts(exec: RemoteExec): Promise<Record<string, unknown>> {
  const script = [
    'printf "kernel\\t%s\\n" "$(uname -r)"',
    'printf "online\\t%s\\n" "$(cat /sys/devices/system/cpu/online)"',
    'printf "nproc\\t%s\\n" "$(nproc)"',
    'printf "rtRuntimeUs\\t%s\\n" "$(cat /proc/sys/kernel/sched_rt_runtime_us)"',
    'printf "rtPeriodUs\\t%s\\n" "$(cat /proc/sys/kernel/sched_rt_period_us)"',
    'printf "hugepages\\t%s\\n" "$(cat /proc/sys/vm/nr_hugepages)"',
    "printf \"cpuModel\\t%s\\n\" \"$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)\"",
  ].join("\n");
  const result = await runChecked(exec, "host facts", "bash -s", { stdin: script, timeoutMs: 30000 });
  const facts: Record<string, unknown> = {};
  for (const line of result.stdout.split("\n")) {
    const [key, ...rest] = line.split("\t");
    if (!key) continue;
    const value = rest.join("\t");
    facts[key] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return facts;
}

function ndrPdrGoals(plan: BenchPlan): SearchGoal[] {
  const shape = {
    exceedRatio: plan.ndrpdr.exceedRatio,
    relativeWidth: plan.ndrpdr.relativeWidth,
    finalTrialDurationS: plan.ndrpdr.trialDurationS,
    initialTrialDurationS: plan.ndrpdr.trialDurationS,
    durationSumS: plan.ndrpdr.durationSumS,
  };
  return [
    { ...NDR_GOAL, ...shape, lossRatio: plan.ndrpdr.ndrLossRatio },
    { ...PDR_GOAL, ...shape, lossRatio: plan.ndrpdr.pdrLossRatio },
  ];
}

export async function runBench(plan: BenchPlan, deps: RunnerDeps): Promise<BenchReport> {
  const t0 = Date.now();
  const since = (): string => `${Math.round((Date.now() - t0) / 1000)}s`;
  const log = (msg: string): void => deps.log(`[bench ${since()}] ${msg}`);
  const report: BenchReport = {
    tool: "vhost-perf-lab/bench-runner",
    schemaVersion: 1,
    plan: plan.name,
    startedAt: new Date(t0).toISOString(),
    finishedAt: "",
    durationS: 0,
    ok: false,
    tg: { kind: plan.tg.kind, directions: 1, note: "" },
    hosts: {},
    facts: { ...plan.facts, plan: redactPlan(plan) },
    notes: [],
    cells: [],
  };
  const finish = (): BenchReport => {
    report.finishedAt = new Date().toISOString();
    report.durationS = Math.round((Date.now() - t0) / 100) / 10;
    report.ok = report.fatal === undefined && report.cells.every((c) => c.error === undefined);
    return report;
  };

  const restoreScript =
    deps.restoreScript === undefined ? findScript("sched-restore.sh") : deps.restoreScript;
  if (!restoreScript) {
    report.fatal =
      "scripts/sched-restore.sh not found beside the runner (set VPL_SCRIPTS_DIR): without it no scheduling change could be undone, so none is made";
    return finish();
  }
  const signal = deps.signal;
  const paths = hostPaths(plan.stack);
  const tgSpec = plan.tg;
  const created = new Map<string, { exec: RemoteExec; dirs: string[] }>();
  let generator: TgSession | undefined;
  let sched: SchedController | undefined;
  let ring: VmRingController | undefined;
  try {
    const dut = await abortable(deps.hosts.get(plan.dut.host), signal);
    const tgExec = await abortable(deps.hosts.get(tgSpec.host), signal);
    for (const name of new Set([plan.dut.host, tgSpec.host])) {
      const exec = await abortable(deps.hosts.get(name), signal);
      created.set(name, { exec, dirs: [] });
      const dirs = await abortable(prepareRunDir(exec, paths), signal);
      created.set(name, { exec, dirs });
      report.hosts[name] = await abortable(hostFacts(exec), signal);
    }
    generator = await abortable(
      openTg(tgSpec, { tgExec, runDir: paths.runDir, cleanupScript: restoreScript }),
      signal,
    );
    report.tg = { kind: generator.kind, directions: generator.directions, note: generator.note };
    if (!plan.dut.vmRing)
      report.notes.push(
        "the negotiated vring size is not verified per cell (no VM control kit in the plan): it is what the VM launcher checked at deploy",
      );
    sched = new SchedController(dut, plan.dut, plan.sched, {
      runDir: paths.runDir,
      restoreScript,
      ...(signal ? { signal } : {}),
    });
    // What a killed run left: its scheduling record first (RR pollers), then its trial.
    const recovered = await abortable(sched.recover(), signal);
    const leftover = await abortable(generator.clearLeftovers(), signal);
    if (leftover !== null) recovered.push(leftover);
    for (const note of recovered) log(`WARNING ${note}`);
    report.notes.push(...recovered);

    const observed = new ObservedGenerator(generator, signal);
    // The TG's achievable rate before the matrix: max loads capped to it (issue 13).
    const calibration = await abortable(calibrateTg(observed, plan), signal);
    report.calibration = calibration.report;
    log(
      `TG calibration: asked ${calibration.report.askedPps} pps, achieved ${calibration.report.achievedPps} pps per direction${calibration.report.capped ? `: max load capped to ${calibration.report.capPps} pps` : ""}`,
    );
    ring = plan.dut.vmRing ? new VmRingController(dut, plan.dut.vmRing, log) : undefined;
    // one restart per vring size: the cells grouped by size, the deployed size first
    const cells = ring ? orderByVring(plan.cells, ring.running) : plan.cells;
    // per frame size: the plan capped to what the TG achieved with that frame
    const planFor = new Map<string, BenchPlan>([[calibration.report.frame, calibration.plan]]);
    for (const [index, cell] of cells.entries()) {
      if (signal?.aborted) throw new AbortedError(abortReason(signal));
      let runPlan = planFor.get(frameLabel(cell.frame));
      if (runPlan === undefined) {
        runPlan = calibration.plan;
        try {
          const again = await abortable(calibrateTg(observed, plan, undefined, cell.frame), signal);
          (report.calibrations ??= [calibration.report]).push(again.report);
          log(
            `TG calibration (${again.report.frame}): asked ${again.report.askedPps} pps, achieved ${again.report.achievedPps} pps per direction${again.report.capped ? `: max load capped to ${again.report.capPps} pps` : ""}`,
          );
          runPlan = again.plan;
        } catch (e) {
          if (e instanceof AbortedError) throw e;
          // a frame the TG cannot send (MTU): the cell's own frame check reports it
          log(`WARNING TG calibration (${frameLabel(cell.frame)}) failed: ${(e as Error).message}`);
        }
        planFor.set(frameLabel(cell.frame), runPlan);
      }
      let vring: CellVringProof | undefined;
      if (ring) {
        const restartS = await abortable(ring.ensure(cell.vringSize), signal);
        vring = await abortable(ring.prove(cell.vringSize, restartS), signal);
      }
      const { cell: cellReport, fatal } = await runCell(runPlan, cell, index, {
        vring,
        dut,
        generator,
        observed,
        sched,
        log,
        signal,
        counters: counterReader(plan.dut.vswitchCounters, { telemetryClient: deps.telemetryClient ?? null }),
        probe: deps.probe === undefined ? { loadPps: 1000, durationS: 1 } : deps.probe,
      });
      report.cells.push(cellReport);
      if (fatal !== null) {
        report.fatal = fatal;
        break;
      }
    }
  } catch (e) {
    const err = e as Error;
    report.fatal =
      err instanceof AbortedError ? `interrupted (${err.why}): remaining cells skipped` : err.message;
  }
  if (report.fatal !== undefined) log(`FATAL ${report.fatal}`);
  const addFatal = (msg: string): void => {
    log(`FATAL ${msg}`);
    report.fatal = report.fatal === undefined ? msg : `${report.fatal}; ${msg}`;
  };
  // The end, also when interrupted: the scheduling record and the trafgen trial, each in one
  // round trip, at the same time (an interrupt has 3 s; an SSH command can cost more than one).
  const closing = sched
    ? sched.close().then(
        (notes) => {
          for (const note of notes) log(note.startsWith("sweep") ? `WARNING ${note}` : note);
          report.notes.push(...notes);
        },
        (e: unknown) => addFatal(`final restore failed: ${(e as Error).message}`),
      )
    : Promise.resolve();
  const stopping = generator
    ? generator
        .stop()
        .catch((e: unknown) => addFatal(`${generator.hints.stopFailed}: ${(e as Error).message}`))
    : Promise.resolve();
  const finishing = Date.now();
  await Promise.all([closing, stopping]);
  if (signal?.aborted) log(`after the interrupt: hosts put back in ${Date.now() - finishing} ms`);
  // The VMs back at their deployed vring size: a boot each, so not within an interrupt's grace;
  // then the VM steps' drift probe makes the next `pulumi up` restart them at that size.
  if (ring && ring.running !== plan.dut.vmRing?.deployed) {
    if (signal?.aborted) {
      const note = `VMs left at vring size ${ring.running} by the interrupt: the next pulumi up restarts them at ${plan.dut.vmRing?.deployed}`;
      log(`WARNING ${note}`);
      report.notes.push(note);
    } else {
      try {
        const note = await ring.restore();
        if (note) {
          log(note);
          report.notes.push(note);
        }
      } catch (e) {
        addFatal(
          `the VMs could not be put back at vring size ${plan.dut.vmRing?.deployed}: ${(e as Error).message} (the next pulumi up restarts them)`,
        );
      }
    }
  }
  for (const { exec, dirs } of created.values()) {
    try {
      await removeCreatedDirs(exec, dirs);
    } catch {
      // a directory that stays is empty or holds a record that still has to be restored
    }
  }
  return finish();
}

interface CellContext {
  /** the runner's proof of the vring size the VMs negotiated, read before the cell */
  vring: CellVringProof | undefined;
  dut: RemoteExec;
  generator: TgSession;
  observed: ObservedGenerator;
  sched: SchedController;
  log: (msg: string) => void;
  signal: AbortSignal | undefined;
  /** the vswitch kind's counter reader (lib/bench/vswitchCounters.ts); null: none */
  counters: CounterReader | null;
  probe: { loadPps: number; durationS: number } | null;
}

async function runCell(
  plan: BenchPlan,
  cell: CellSpec,
  index: number,
  ctx: CellContext,
): Promise<{ cell: CellReport; fatal: string | null }> {
  const started = Date.now();
  const name = cellBaseName(cell, plan.naming);
  const out: CellReport = {
    name,
    testNames: Object.fromEntries(cell.tests.map((t) => [t, testName(cell, t, plan.naming)])),
    vringSize: cell.vringSize,
    policy: cell.policy,
    ...frameFields(cell.frame),
    directions: ctx.generator.directions,
    startedAt: new Date(started).toISOString(),
    durationS: 0,
    warnings: [],
  };
  const { log } = ctx;
  log(`cell ${index + 1}/${plan.cells.length} ${name} (${cell.tests.join(", ")})`);
  if (ctx.vring) {
    out.vring = ctx.vring;
    log(
      `${name}: vring asked ${ctx.vring.asked}, negotiated ${ctx.vring.ok ? "the same on every device" : ctx.vring.problems.join("; ")}`,
    );
  }
  const tgNotes = new Map<string, number>();
  const noteTrial = (): void => {
    for (const note of ctx.generator.trialNotes()) tgNotes.set(note, 1 + (tgNotes.get(note) ?? 0));
  };

  let applied: AppliedCfsrr1 | null = null;
  let revertFailure: string | null = null;
  let portsBefore: PortStats[] | null = null;
  try {
    // Everything measured runs under the interrupt: an abort leaves it behind at once (the
    // scheduler and the generator refuse anything further), and the finally below reverts.
    await abortable(
      (async (): Promise<void> => {
        // 0. The VMs run the vring size this cell is about (else its figures would be another's).
        if (ctx.vring && !ctx.vring.ok)
          throw new Error(`vring size not as asked: ${ctx.vring.problems.join("; ")}`);
        // 1. Can this TG carry the frame at all? Then: does anything come back?
        await ctx.generator.checkFrame(cell.frame);
        if (ctx.probe) {
          const probe = await ctx.observed.runTrial({ ...ctx.probe, frame: cell.frame });
          out.probe = {
            loadPps: ctx.probe.loadPps,
            offered: probe.offeredCount,
            received: probe.receivedCount,
          };
          if (probe.offeredCount > 0 && probe.receivedCount === 0) {
            const jumbo = maxFrameBytes(cell.frame) > 1518;
            throw jumbo
              ? new UnsupportedFrameError(
                  cell.frame,
                  "nothing came back in the probe trial (the vswitch's af_packet ports or the VM do not take jumbo frames)",
                )
              : new Error(
                  `probe: ${probe.offeredCount} packets offered at ${ctx.probe.loadPps} pps, none came back: the datapath is not forwarding (vswitch down? VM not attached?)`,
                );
          }
          if (probe.offeredCount === 0) throw new Error(`probe: ${ctx.generator.hints.nothingSent}`);
        }
        if (ctx.counters) {
          portsBefore = await ctx.counters.read(ctx.dut);
          if (!portsBefore)
            out.warnings.push(
              `vswitch counters not readable (${ctx.counters.what}): no port counters for this cell`,
            );
        }

        // 2. Scheduling policy for the cell.
        if (cell.policy === "cfsrr1") {
          const { warnings } = await ctx.sched.apply((a) => {
            applied = a;
          });
          out.warnings.push(...warnings);
          const a = applied as AppliedCfsrr1 | null;
          if (a) {
            out.sched = cellSchedReport(a);
            log(
              `${name}: SCHED_RR 1 on ${a.plan.targets.length} threads (${a.plan.targets.map((t) => `${t.label}:${t.thread.comm}`).join(", ")}); ${a.plan.runtime.reason}`,
            );
          }
        }

        // 3. The tests.
        if (cell.tests.includes("mrr")) {
          const tn = testName(cell, "mrr", plan.naming);
          let i = 0;
          ctx.observed.onTrial = (req, counts) => {
            i++;
            noteTrial();
            const loss = counts.offeredCount === 0 ? 1 : 1 - counts.receivedCount / counts.offeredCount;
            log(
              `${tn} trial ${i}/${plan.mrr.trials}: ${Math.round(counts.receivedCount / req.durationS)} pps (offered ${counts.offeredCount}, loss ${(loss * 100).toFixed(2)}%)`,
            );
          };
          const result = await measureMrr(ctx.observed, {
            maxLoadPps: plan.mrr.maxLoadPps,
            frame: cell.frame,
            trials: plan.mrr.trials,
            trialDurationS: plan.mrr.trialDurationS,
          });
          out.mrr = shapeMrr(tn, result);
          log(`${tn}: ${formatPps(out.mrr.avgPps)} average, stdev ${formatPps(out.mrr.stdevPps)}`);
        }
        if (cell.tests.includes("ndrpdr")) {
          const tn = testName(cell, "ndrpdr", plan.naming);
          const config = makeSearchConfig({
            goals: ndrPdrGoals(plan),
            minLoadPps: plan.ndrpdr.minLoadPps,
            maxLoadPps: plan.ndrpdr.maxLoadPps,
            frame: cell.frame as FrameSize,
            timeLimitS: plan.ndrpdr.timeLimitS,
            intermediatePhases: plan.ndrpdr.intermediatePhases,
          });
          ctx.observed.onTrial = () => noteTrial();
          const t = Date.now();
          const result = await runMlrSearch(ctx.observed, config, {
            clock: () => (Date.now() - t) / 1000,
            onTrial: (e) =>
              log(
                `${tn} trial ${e.index + 1}: ${Math.round(e.loadPps)} pps x ${e.durationS}s -> loss ${(e.lossRatio * 100).toFixed(3)}% (${e.why})`,
              ),
          });
          out.ndrpdr = shapeNdrPdr(tn, result);
          const fmt = (g: typeof out.ndrpdr.ndr): string =>
            g === null
              ? "-"
              : g.lowerBoundPps === null
                ? `none (${g.outcome})`
                : `${formatPps(g.lowerBoundPps)} (${g.outcome})`;
          log(`${tn}: NDR ${fmt(out.ndrpdr.ndr)}, PDR ${fmt(out.ndrpdr.pdr)}, stop: ${result.stopReason}`);
          if (result.stopReason !== "goals-reached")
            out.warnings.push(`ndrpdr stopped early: ${result.stopReason}`);
          // 4. Latency after NDR/PDR, as CSIT measures it: levels at fractions of the PDR.
          const pdr = out.ndrpdr.pdr?.lowerBoundPps ?? null;
          if (plan.tg.kind === "trex" && plan.tg.latency && ctx.generator.measureLatency) {
            if (pdr === null || pdr <= 0) {
              out.warnings.push("latency not measured: no PDR was established");
            } else {
              const perDirection = pdr / ctx.generator.directions;
              out.latency = await ctx.generator.measureLatency(perDirection, cell.frame, {
                ...plan.tg.latency,
                ...(ctx.signal ? { signal: ctx.signal } : {}),
              });
              for (const level of out.latency) {
                log(
                  `${tn} latency ${level.label} (${formatPps(level.loadPps)}/dir): ${level.directions.map((d) => `dir${d.direction} ${d.minUs}/${d.avgUs}/${d.maxUs} us`).join(", ")}`,
                );
              }
            }
          }
        }
        out.warnings.push(...sanityWarnings(out));
      })(),
      ctx.signal,
    );
  } catch (e) {
    const err = e as Error;
    out.error = err instanceof AbortedError ? `interrupted (${err.why})` : err.message;
    if (err instanceof UnsupportedFrameError) out.skipped = true;
    log(`${name}: ${err instanceof UnsupportedFrameError ? "SKIPPED" : "FAILED"}: ${out.error}`);
  } finally {
    ctx.observed.onTrial = null;
    const a = applied as AppliedCfsrr1 | null;
    // Interrupted: the end of the run restores, in one round trip with the trafgen stop.
    if (a && !ctx.signal?.aborted) {
      try {
        const notes = await ctx.sched.revert();
        out.warnings.push(...notes);
        log(
          `${name}: scheduling reverted${a.plan.runtime.setUs !== null ? `, sched_rt_runtime_us back to ${a.plan.runtime.currentUs}` : ""}`,
        );
      } catch (revertError) {
        // Stop everything: the host may have RT pollers left. The caller reports it as fatal.
        revertFailure = `REVERT FAILED: ${(revertError as Error).message}`;
        out.error = `${out.error ? `${out.error}; ` : ""}${revertFailure}`;
        log(`${name}: ${revertFailure}`);
      }
    }
  }
  if (revertFailure !== null) {
    out.durationS = Math.round((Date.now() - started) / 100) / 10;
    return { cell: out, fatal: revertFailure };
  }
  if (ctx.signal?.aborted) {
    out.durationS = Math.round((Date.now() - started) / 100) / 10;
    return { cell: out, fatal: `interrupted (${abortReason(ctx.signal)}): remaining cells skipped` };
  }
  if (portsBefore && ctx.counters) {
    const after = await ctx.counters.read(ctx.dut);
    if (after) out.vswitchPorts = portDeltas(portsBefore, after);
  }
  for (const [note, count] of tgNotes) out.warnings.push(`${count} trial(s): ${note}`);
  out.durationS = Math.round((Date.now() - started) / 100) / 10;
  return { cell: out, fatal: null };
}
