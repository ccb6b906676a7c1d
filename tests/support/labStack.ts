// Local-lab stacks for the fault suite: a stack file derived from Pulumi.local.yaml with its own
// sshd port, netns, veths and a short matrix; the pulumi CLI driven as a child process (so a test
// can interrupt or kill it), with its output kept for the secret sweep.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import { repoRoot } from "./repo";

export const pulumiEnv: Record<string, string> = {
  PULUMI_CONFIG_PASSPHRASE_FILE:
    process.env["PULUMI_CONFIG_PASSPHRASE_FILE"] ?? path.join(os.homedir(), ".vhost-perf-lab", "passphrase"),
  PULUMI_SKIP_UPDATE_CHECK: "true",
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  PULUMI_NODEJS_TRANSPILE_ONLY: "true",
};

export interface FaultStackOptions {
  /** stack name, also the lab name */
  stack: string;
  /** loopback port of the stack's sshd */
  port: number;
  /** short tag for the netns and veth names (netns <tag>gen, veths <tag>sw0/<tag>gen0 ...) */
  tag: string;
  /** hugepage count (2M pages) */
  hugepages?: number;
  tuning?: string[];
  imagePath?: string;
  qemuPrefix?: string;
  /** MRR trials per cell (1 s each) */
  mrrTrials?: number;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Everything the CLI printed in this process, for the secret sweep. */
export const printed: string[] = [];

/** A stack of the local lab for the fault suite; its file is removed by `remove()`. */
export class FaultStack {
  readonly file: string;
  private readonly initial: FaultStackOptions;

  constructor(readonly opts: FaultStackOptions) {
    this.file = path.join(repoRoot(), `Pulumi.${opts.stack}.yaml`);
    this.initial = structuredClone(opts);
  }

  /**
   * Before a scenario: the options as constructed, and no resources left by a scenario that
   * failed half-way (cancelled if its CLI was killed, then destroyed), so that one failure does
   * not cascade into the next scenario. Says what it had to clean.
   */
  async reset(): Promise<void> {
    for (const k of Object.keys(this.opts)) delete (this.opts as unknown as Record<string, unknown>)[k];
    Object.assign(this.opts, structuredClone(this.initial));
    if (!fs.existsSync(this.file) || this.resourceCount() === 0) return;
    process.stderr.write(`[fault] stack ${this.opts.stack} was left with resources: destroying it first\n`);
    this.cli(["cancel", "--yes", "--stack", this.opts.stack]);
    const d = await this.destroy();
    if (d.code !== 0) throw new Error(`stack ${this.opts.stack} left by an earlier scenario: destroy failed`);
  }

  /** The stack file from Pulumi.local.yaml with this stack's own names and a short matrix. */
  config(): Record<string, unknown> {
    const o = this.opts;
    const local = YAML.parse(fs.readFileSync(path.join(repoRoot(), "Pulumi.local.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    const c = structuredClone(local.config) as Record<string, Record<string, unknown>>;
    c["vhost-perf-lab:lab"] = { name: o.stack, profile: "local" };
    const hosts = c["vhost-perf-lab:hosts"] as unknown as Record<string, unknown>[];
    const host = hosts[0]!;
    (host["ssh"] as Record<string, unknown>)["port"] = o.port;
    (host["hugepages"] as Record<string, unknown>)["count"] = o.hugepages ?? 1536;
    host["nics"] = [0, 1].map((i) => ({
      name: `port${i}`,
      veth: { ifname: `${o.tag}sw${i}`, peer: `${o.tag}gen${i}`, netns: `${o.tag}gen` },
      mtu: 1500,
    }));
    // the TG host of the 2-node local lab: its own netns and management address per stack
    const tg = hosts.find((h) => h["name"] === (c["vhost-perf-lab:tg"] as Record<string, unknown>)["host"]);
    if (tg && tg !== host) {
      const ssh = tg["ssh"] as Record<string, unknown>;
      ssh["netns"] = `${o.tag}gen`;
      ssh["host"] = `10.250.${o.port % 250}.2`;
    }
    c["vhost-perf-lab:tuning"] = {
      ...c["vhost-perf-lab:tuning"],
      apply: o.tuning ?? ["hugepages", "sysctl", "irqbalance"],
    };
    const vms = c["vhost-perf-lab:vms"]!;
    vms["sshPortBase"] = 10000 + (o.port % 1000) * 10;
    if (o.imagePath) c["vhost-perf-lab:image"] = { ...c["vhost-perf-lab:image"], path: o.imagePath };
    if (o.qemuPrefix) c["vhost-perf-lab:qemu"] = { ...c["vhost-perf-lab:qemu"], prefix: o.qemuPrefix };
    c["vhost-perf-lab:matrix"] = {
      vringSizes: [1024],
      cfsPolicies: ["cfs", "cfsrr1"],
      frames: [64],
      tests: ["mrr"],
      mrr: { trialDurationS: 1, trials: o.mrrTrials ?? 1 },
    };
    return c;
  }

  /** Write the stack file (keeping the encryption salt Pulumi put there) and make the stack. */
  write(changes: Partial<FaultStackOptions> = {}): void {
    Object.assign(this.opts, changes);
    let salt: string | undefined;
    if (fs.existsSync(this.file)) {
      salt = (YAML.parse(fs.readFileSync(this.file, "utf8")) as { encryptionsalt?: string }).encryptionsalt;
    }
    const doc: Record<string, unknown> = {
      ...(salt ? { encryptionsalt: salt } : {}),
      // the secrets set with setSecret go into their keys (e.g. image.user.password beside image.path)
      config: mergeDeep(this.config(), this.secretConfig()) as Record<string, unknown>,
    };
    fs.writeFileSync(this.file, YAML.stringify(doc));
    const sel = this.cli(["stack", "select", "--create", this.opts.stack]);
    if (sel.status !== 0) throw new Error(`pulumi stack select --create ${this.opts.stack}: ${sel.stderr}`);
  }

  private secretValues: Record<string, unknown> = {};
  private secretConfig(): Record<string, unknown> {
    return this.secretValues;
  }

  /** `pulumi config set --secret --path <key>` with the value on stdin (never in argv). */
  setSecret(pathKey: string, value: string): void {
    const r = spawnSync(
      "pulumi",
      ["config", "set", "--secret", "--path", "--stack", this.opts.stack, pathKey],
      {
        cwd: repoRoot(),
        env: { ...process.env, ...pulumiEnv },
        input: value,
        encoding: "utf8",
      },
    );
    if (r.status !== 0) throw new Error(`pulumi config set --secret ${pathKey}: ${r.stderr}`);
    // keep it across later write()s: only the secret's own leaf (its whole map would also pin
    // the map's other keys, e.g. image.path, at their values of this moment)
    const doc = YAML.parse(fs.readFileSync(this.file, "utf8")) as { config: Record<string, unknown> };
    const keys = pathKey.split(".");
    let leaf: unknown = doc.config;
    for (const k of keys) leaf = (leaf as Record<string, unknown> | undefined)?.[k];
    if (leaf === undefined)
      throw new Error(`pulumi config set --secret ${pathKey}: not found in ${this.file}`);
    const nested = keys.reduceRight<unknown>((inner, k) => ({ [k]: inner }), leaf) as Record<string, unknown>;
    this.secretValues = mergeDeep(this.secretValues, nested) as Record<string, unknown>;
  }

  cli(args: string[]): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
    return spawnSync("pulumi", args, {
      cwd: repoRoot(),
      env: { ...process.env, ...pulumiEnv },
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    }) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
  }

  /** Start a pulumi command of this stack; the caller may signal the child. */
  start(args: string[]): { child: ChildProcess; done: Promise<CliResult>; output: () => string } {
    const child = spawn("pulumi", [...args, "--stack", this.opts.stack], {
      cwd: repoRoot(),
      env: { ...process.env, ...pulumiEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const take = (b: Buffer): void => {
      const s = b.toString();
      output += s;
      printed.push(s);
      process.stderr.write(s.replace(/^/gm, `[${this.opts.stack}] `));
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    const done = new Promise<CliResult>((resolve) => {
      child.on("close", (code, signal) => resolve({ code, signal, output }));
    });
    return { child, done, output: () => output };
  }

  async up(): Promise<CliResult> {
    return this.start(["up", "--yes", "--skip-preview", "--non-interactive"]).done;
  }

  async destroy(): Promise<CliResult> {
    return this.start(["destroy", "--yes", "--skip-preview", "--non-interactive"]).done;
  }

  async refresh(): Promise<CliResult> {
    return this.start(["refresh", "--yes", "--skip-preview", "--non-interactive"]).done;
  }

  outputs(): Record<string, unknown> {
    const r = this.cli(["stack", "output", "--json", "--stack", this.opts.stack]);
    if (r.status !== 0) throw new Error(`pulumi stack output: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  /** The stack's state as stored (secrets encrypted). */
  exportState(): string {
    const r = this.cli(["stack", "export", "--stack", this.opts.stack]);
    if (r.status !== 0) throw new Error(`pulumi stack export: ${r.stderr}`);
    return r.stdout;
  }

  resourceCount(): number {
    const state = JSON.parse(this.exportState()) as { deployment?: { resources?: unknown[] } };
    return state.deployment?.resources?.length ?? 0;
  }

  /** Remove the stack (it must be empty) and its file. */
  remove(): void {
    this.cli(["stack", "rm", "--yes", "--stack", this.opts.stack]);
    fs.rmSync(this.file, { force: true });
  }
}

function mergeDeep(a: unknown, b: unknown): unknown {
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = mergeDeep(out[k], v);
    return out;
  }
  return b ?? a;
}

/** Wait until `check` returns a value (polling), or fail after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// the /proc readers of the fault suite
export { processes, ppid, rtThreadsOf } from "./proc";
