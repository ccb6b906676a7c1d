/**
 * Running commands on lab hosts: over SSH (ssh2, one connection per host, reused for every trial
 * and every thread-policy change) or, for tests and development, locally with bash.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client, type ClientChannel, type ServerHostKeyAlgorithm } from "ssh2";
import { parseHostKey, type HostKeyType } from "../lab/hostKey";
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
  /**
   * Starts `command` now and holds it at its stdin, so a later run costs no start-up (an SSH
   * command starts the login shell, which can take seconds): for what an interrupt must do within
   * the provider's 3 s. Optional; see prepared().
   */
  prepare?(command: string): PreparedCommand;
  close(): Promise<void>;
}

/** A command started ahead, waiting for its stdin. One use. */
export interface PreparedCommand {
  /** Feeds stdin (then EOF) and waits for the command; falls back to a fresh run if it died meanwhile. */
  run(options?: ExecOptions): Promise<ExecResult>;
  /** Ends an unused prepared command (EOF on stdin: it does nothing and exits). */
  dispose(): void;
}

/** exec.prepare(command) where the transport has it, else a plain run when used. */
export function prepared(exec: RemoteExec, command: string): PreparedCommand {
  if (exec.prepare) return exec.prepare(command);
  return { run: (options) => exec.run(command, options), dispose: () => undefined };
}

/** Collects a started command's output; settles once when it ends or the timeout cuts it. */
class Running {
  stdout = "";
  stderr = "";
  timedOut = false;
  exited = false;
  readonly done: Promise<ExecResult>;
  private finish: (code: number | null) => void = () => undefined;

  constructor() {
    this.done = new Promise((resolve) => {
      this.finish = (code) => {
        this.exited = true;
        resolve({
          code: this.timedOut ? null : code,
          stdout: this.stdout,
          stderr: this.stderr,
          timedOut: this.timedOut,
        });
      };
    });
  }

  end(code: number | null): void {
    if (!this.exited) this.finish(code);
  }
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

/** OpenSSH's fingerprint of a key blob, for messages only (never accepted as a pin). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Host key algorithms that make the server present a key of the pinned type. */
export function hostKeyAlgorithms(type: HostKeyType): ServerHostKeyAlgorithm[] {
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}

/**
 * The pin of a host, checked with the project's one rule (lib/lab/hostKey.ts): the public key line
 * "<type> <base64> [comment]". Throws, before any connection is made, for a missing, empty or
 * otherwise refused key (fingerprints, known_hosts lines), with the fix.
 */
export function pinnedHostKey(host: { host: string; port: number; hostKey?: string }): {
  type: HostKeyType;
  blob: Buffer;
} {
  const parsed = parseHostKey(host.hostKey ?? "", { host: host.host, port: host.port });
  if (!parsed.ok) {
    throw new Error(
      `ssh ${host.host}:${host.port}: refusing to connect: the host key pin is not usable: ${parsed.error}; fix: ${parsed.fix}`,
    );
  }
  return { type: parsed.type, blob: Buffer.from(parsed.blob, "base64") };
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

  /**
   * In its own process group: a Ctrl-C or the provider's TERM to the runner's group must not end
   * the very command that is to restore the host.
   */
  prepare(command: string): PreparedCommand {
    const child = spawn("bash", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const r = new Running();
    child.stdout.on("data", (d: Buffer) => (r.stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (r.stderr += d.toString()));
    child.on("error", () => r.end(null));
    child.on("close", (code) => r.end(code));
    child.stdin.on("error", () => undefined);
    // waiting for its stdin, it must not keep the process alive (an unused one is simply dropped)
    // (the stdio of a child process are net.Sockets, which can be unref'ed)
    const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as {
      ref(): void;
      unref(): void;
    }[];
    for (const h of handles) h.unref();
    let used = false;
    return {
      run: async (options = {}) => {
        if (used) throw new Error("a prepared command runs once");
        used = true;
        if (r.exited || child.exitCode !== null) return this.run(command, options);
        for (const h of handles) h.ref();
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                r.timedOut = true;
                child.kill("SIGKILL");
              }, options.timeoutMs);
        child.stdin.end(options.stdin ?? "");
        const result = await r.done;
        if (timer) clearTimeout(timer);
        return result;
      },
      dispose: () => {
        used = true;
        child.stdin.end();
      },
    };
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

  /**
   * Connects, verifying the server's host key against the pin (never trust-on-first-use). A pin
   * that is missing or not the one accepted form is refused before any connection is made.
   */
  static connect(host: SshHost): Promise<SshExec> {
    let pin: { type: HostKeyType; blob: Buffer };
    try {
      pin = pinnedHostKey(host);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const privateKey = host.privateKey ?? readFileSync(host.privateKeyPath as string, "utf8");
    const client = new Client();
    let presented: Buffer | undefined;
    return new Promise((resolve, reject) => {
      const fail = (e: Error): void => {
        client.end();
        const name = `${host.user}@${host.host}:${host.port}`;
        const why =
          presented && !presented.equals(pin.blob)
            ? `host key mismatch: the server presented ${fingerprint(presented)}, the plan pins ${pin.type} ${fingerprint(pin.blob)}`
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
        // only the pinned type: a server with several host keys presents the pinned one
        algorithms: { serverHostKey: hostKeyAlgorithms(pin.type) },
        hostVerifier: (key: Buffer) => {
          presented = key;
          return key.equals(pin.blob);
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

  /** Opens the channel now (the login shell starts now); run() only sends stdin. */
  prepare(command: string): PreparedCommand {
    const r = new Running();
    const channel = new Promise<ClientChannel>((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) {
          r.end(null);
          reject(err);
          return;
        }
        stream.on("data", (d: Buffer) => (r.stdout += d.toString()));
        stream.stderr.on("data", (d: Buffer) => (r.stderr += d.toString()));
        stream.on("close", (code: number | null | undefined) => r.end(code ?? null));
        resolve(stream);
      });
    });
    channel.catch(() => undefined);
    let used = false;
    return {
      run: async (options = {}) => {
        if (used) throw new Error("a prepared command runs once");
        used = true;
        let stream: ClientChannel;
        try {
          stream = await channel;
        } catch {
          return this.run(command, options);
        }
        if (r.exited) return this.run(command, options);
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                r.timedOut = true;
                stream.signal("KILL");
                stream.close();
              }, options.timeoutMs);
        stream.end(options.stdin ?? "");
        const result = await r.done;
        if (timer) clearTimeout(timer);
        return result;
      },
      dispose: () => {
        used = true;
        channel.then(
          (stream) => stream.end(),
          () => undefined,
        );
      },
    };
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
