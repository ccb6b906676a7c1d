/**
 * JSON-RPC 2.0 over a ZeroMQ REQ socket: TRex's synchronous RPC channel (TCP 4501,
 * trex_rpc_server_spec.asciidoc "Transport Layer" and "RPC Reprensentation Protocol").
 * REQ/REP is strictly lock-step, so calls are queued; a REQ socket that timed out is stuck
 * between send and receive and is closed and recreated before the next call.
 */
import * as zmq from "zeromq";
import { decodeMessage, encodeMessage } from "./framing";

export type Params = Record<string, unknown>;

export interface RpcCall {
  readonly method: string;
  readonly params?: Params;
}

/** The server answered a call with a JSON-RPC error object. */
export class TrexRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly serverMessage: string,
    readonly specificErr?: string,
  ) {
    super(
      `TRex RPC ${method} failed: error ${code} "${serverMessage}"` + (specificErr ? `: ${specificErr}` : ""),
    );
    this.name = "TrexRpcError";
  }
}

/** No reply within the timeout (server down, busy or wedged). */
export class TrexTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly endpoint: string,
    readonly timeoutMs: number,
  ) {
    super(`TRex RPC ${method} to ${endpoint}: no reply within ${timeoutMs} ms`);
    this.name = "TrexTimeoutError";
  }
}

/** The reply could not be understood (not JSON, wrong id, neither result nor error). */
export class TrexProtocolError extends Error {
  constructor(
    readonly method: string,
    detail: string,
  ) {
    super(`TRex RPC ${method}: ${detail}`);
    this.name = "TrexProtocolError";
  }
}

export interface TrexRpcOptions {
  readonly host: string;
  /** Synchronous RPC port (TRex default 4501). */
  readonly port?: number;
  /** Per-call reply timeout, ms (default 5000). */
  readonly timeoutMs?: number;
  /** Send zlib-framed requests as TRex's Python client does (default: plain JSON). */
  readonly compress?: boolean;
  /** Sees every request as sent (JSON text), e.g. to record or log them. */
  readonly onRequest?: (json: string) => void;
}

/** Methods that carry no api_h (spec "API Synchronization"; DESIGN.md §7). */
const WITHOUT_API_H = new Set(["api_sync_v2", "api_sync", "ping"]);

interface Envelope {
  jsonrpc: "2.0";
  id: number;
  method: string;
  params: Params;
}

interface ReplyObject {
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown; specific_err?: unknown };
}

export class TrexRpc {
  readonly endpoint: string;
  readonly timeoutMs: number;
  /** API handler from api_sync_v2; added to every later call. */
  apiH: string | undefined;
  private socket: zmq.Request | undefined;
  private nextId = 1;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: TrexRpcOptions) {
    this.endpoint = `tcp://${options.host}:${options.port ?? 4501}`;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** One call; resolves to its result, rejects with TrexRpcError/TrexTimeoutError. */
  async call(method: string, params: Params = {}, timeoutMs?: number): Promise<unknown> {
    const [result] = await this.batch([{ method, params }], timeoutMs);
    return result;
  }

  /**
   * Several calls in one message (a JSON array; the server answers with an array). Resolves to
   * the results in call order; the first failed call rejects the whole batch with its error.
   */
  batch(calls: readonly RpcCall[], timeoutMs?: number): Promise<unknown[]> {
    const run = this.tail.then(() => this.exchange(calls, timeoutMs ?? this.timeoutMs));
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.closed = true;
    this.dropSocket();
  }

  private envelope(call: RpcCall): Envelope {
    const params: Params = { ...(call.params ?? {}) };
    if (this.apiH !== undefined && !WITHOUT_API_H.has(call.method)) params["api_h"] = this.apiH;
    return { jsonrpc: "2.0", id: this.nextId++, method: call.method, params };
  }

  private connectedSocket(): zmq.Request {
    if (this.closed) throw new Error(`TRex RPC client for ${this.endpoint} is closed`);
    if (!this.socket) {
      this.socket = new zmq.Request({ linger: 0 });
      this.socket.connect(this.endpoint);
    }
    return this.socket;
  }

  private dropSocket(): void {
    if (this.socket && !this.socket.closed) this.socket.close();
    this.socket = undefined;
  }

  private async exchange(calls: readonly RpcCall[], timeoutMs: number): Promise<unknown[]> {
    if (calls.length === 0) return [];
    const envelopes = calls.map((c) => this.envelope(c));
    const label = envelopes.map((e) => e.method).join("+");
    const text = JSON.stringify(envelopes.length === 1 ? envelopes[0] : envelopes);
    this.options.onRequest?.(text);
    const socket = this.connectedSocket();
    socket.sendTimeout = timeoutMs;
    socket.receiveTimeout = timeoutMs;
    let reply: Buffer;
    try {
      await socket.send(encodeMessage(text, this.options.compress ?? false));
      [reply] = (await socket.receive()) as [Buffer];
    } catch (err) {
      // A REQ socket that missed its reply cannot send again: start over with a new one.
      this.dropSocket();
      if ((err as { code?: string }).code === "EAGAIN")
        throw new TrexTimeoutError(label, this.endpoint, timeoutMs);
      throw err;
    }
    return this.parseReply(label, envelopes, reply);
  }

  private parseReply(label: string, envelopes: Envelope[], reply: Buffer): unknown[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decodeMessage(reply).text);
    } catch (err) {
      throw new TrexProtocolError(label, `unreadable reply: ${(err as Error).message}`);
    }
    const replies = (Array.isArray(parsed) ? parsed : [parsed]) as ReplyObject[];
    return envelopes.map((envelope) => {
      const answer =
        replies.find((r) => r && r.id === envelope.id) ??
        (replies.length === 1 && envelopes.length === 1 ? replies[0] : undefined);
      if (!answer || typeof answer !== "object") {
        throw new TrexProtocolError(envelope.method, `no reply with id ${envelope.id}`);
      }
      if (answer.error) {
        const e = answer.error;
        const specific =
          typeof e.specific_err === "string" && e.specific_err !== "" ? e.specific_err : undefined;
        throw new TrexRpcError(envelope.method, Number(e.code), String(e.message ?? ""), specific);
      }
      if (!("result" in answer))
        throw new TrexProtocolError(envelope.method, "reply has neither result nor error");
      return answer.result;
    });
  }
}
