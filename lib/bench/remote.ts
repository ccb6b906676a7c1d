/**
 * Running commands on lab hosts: over SSH (ssh2, one connection per host, reused for every trial
 * and every thread-policy change) or, for tests and development, locally with bash.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client } from "ssh2";
import type { HostConnection } from "./plan";

export interface ExecResult {
  /** exit status; null when the command was ended by a signal or the timeout */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface ExecOptions {
  /** fed to the command's stdin (e.g. a script for `bash -s`) */
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

export interface RemoteExec {
  /** for messages: "root@127.0.0.1:2022" or "local" */
  readonly name: string;
  run(command: string, options?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

export class RemoteCommandError extends Error {
  constructor(
    readonly host: string,
    readonly what: string,
    readonly result: ExecResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-6).join("\n    ");
    const status = result.timedOut ? "timed out" : `exit ${result.code ?? "by signal"}`;
    super(`${host}: ${what} failed (${status})${detail ? `:\n    ${detail}` : ""}`);
    this.name = "RemoteCommandError";
  }
}

/** Runs and throws RemoteCommandError unless the exit status is 0. */
export async function runChecked(
  exec: RemoteExec,
  what: string,
  command: string,
  options?: ExecOptions,
): Promise<ExecResult> {
  const result = await exec.run(command, options);
  if (result.code !== 0) throw new RemoteCommandError(exec.name, what, result);
  return result;
}

/** POSIX shell single-quoting. */
export function shQuote(value: string | number): string {
  const s = String(value);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `env K=V ... <command>` with every value quoted (SSH servers rarely accept AcceptEnv). */
export function withEnv(env: Readonly<Record<string, string | number>>, command: string): string {
  const parts = Object.entries(env).map(([key, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`bad environment variable name ${key}`);
    return `${key}=${shQuote(value)}`;
  });
  return parts.length === 0 ? command : `env ${parts.join(" ")} ${command}`;
}

/**
 * Does the host key the server presented match the pin? The pin is either "<type> <base64>" as in
 * known_hosts / a .pub file, or OpenSSH's "SHA256:<base64 without padding>" fingerprint.
 */
export function hostKeyMatches(pin: string, presentedKey: Buffer): boolean {
  const trimmed = pin.trim();
  if (trimmed.startsWith("SHA256:")) {
    const fingerprint = createHash("sha256").update(presentedKey).digest("base64").replace(/=+$/, "");
    return fingerprint === trimmed.slice("SHA256:".length).replace(/=+$/, "");
  }
  const blob = trimmed.split(/\s+/)[1];
  if (!blob) return false;
  return Buffer.from(blob, "base64").equals(presentedKey);
}

export class LocalExec implements RemoteExec {
  readonly name = "local";

  run(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn("bash", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              child.kill("SIGKILL");
            }, options.timeoutMs);
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", (e) => {
        if (timer) clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code) => {
        if (timer) clearTimeout(timer);
        resolve({ code: timedOut ? null : code, stdout, stderr, timedOut });
      });
      child.stdin.on("error", () => undefined); // command may exit without reading stdin
      child.stdin.end(options.stdin ?? "");
    });
  }

  async close(): Promise<void> {}
}

type SshHost = Extract<HostConnection, { transport: "ssh" }>;

export class SshExec implements RemoteExec {
  readonly name: string;
  private constructor(
    private readonly client: Client,
    host: SshHost,
  ) {
    this.name = `${host.user}@${host.host}:${host.port}`;
  }

  /** Connects, verifying the server's host key against the pin (never trust-on-first-use). */
  static connect(host: SshHost): Promise<SshExec> {
    const privateKey = host.privateKey ?? readFileSync(host.privateKeyPath as string, "utf8");
    const client = new Client();
    let presented: Buffer | undefined;
    return new Promise((resolve, reject) => {
      const fail = (e: Error): void => {
        client.end();
        const name = `${host.user}@${host.host}:${host.port}`;
        const why =
          presented && !hostKeyMatches(host.hostKey, presented)
            ? `host key mismatch: the server presented SHA256:${createHash("sha256").update(presented).digest("base64").replace(/=+$/, "")}, the plan pins ${host.hostKey}`
            : e.message;
        reject(new Error(`ssh ${name}: ${why}`));
      };
      client.once("ready", () => {
        client.removeListener("error", fail);
        client.on("error", () => undefined); // later errors surface on the channels
        resolve(new SshExec(client, host));
      });
      client.once("error", fail);
      client.connect({
        host: host.host,
        port: host.port,
        username: host.user,
        privateKey,
        readyTimeout: host.readyTimeoutMs,
        keepaliveInterval: 10000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          presented = key;
          return hostKeyMatches(host.hostKey, key);
        },
      });
    });
  }

  run(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) {
          reject(new Error(`${this.name}: cannot open a channel: ${err.message}`));
          return;
        }
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true;
                stream.signal("KILL");
                stream.close();
              }, options.timeoutMs);
        stream.on("data", (d: Buffer) => (stdout += d.toString()));
        stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        stream.on("close", (code: number | null | undefined) => {
          if (timer) clearTimeout(timer);
          resolve({ code: timedOut ? null : (code ?? null), stdout, stderr, timedOut });
        });
        stream.end(options.stdin ?? "");
      });
    });
  }

  async close(): Promise<void> {
    this.client.end();
  }
}

/** One connection per host name, opened on first use and reused. */
export class HostPool {
  private readonly open = new Map<string, Promise<RemoteExec>>();

  constructor(private readonly hosts: Readonly<Record<string, HostConnection>>) {}

  get(name: string): Promise<RemoteExec> {
    let exec = this.open.get(name);
    if (!exec) {
      const host = this.hosts[name];
      if (!host) throw new Error(`unknown host ${name}`);
      exec = host.transport === "local" ? Promise.resolve(new LocalExec()) : SshExec.connect(host);
      this.open.set(name, exec);
      exec.catch(() => this.open.delete(name));
    }
    return exec;
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const exec of all) {
      try {
        await (await exec).close();
      } catch {
        // a connection that never opened has nothing to close
      }
    }
  }
}
