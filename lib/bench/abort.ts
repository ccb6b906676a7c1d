/**
 * Interrupting the runner: a signal, the provider's cancel or the runner's own time limit aborts
 * one AbortSignal; whatever the runner awaits at that moment (a trial, a snapshot, a connection)
 * is abandoned at once, so the restore can start within the provider's grace (TERM, 3 s, KILL).
 */

export class AbortedError extends Error {
  constructor(readonly why = "interrupted") {
    super(why);
    this.name = "AbortedError";
  }
}

/** The reason of an aborted signal, as text ("SIGTERM", "time limit of 600 s"). */
export function abortReason(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  if (r instanceof AbortedError) return r.why;
  if (r instanceof Error) return r.message;
  return typeof r === "string" ? r : "interrupted";
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(abortReason(signal));
}

/**
 * Resolves like `work`, or rejects with AbortedError as soon as `signal` aborts. The work itself
 * goes on in the background (its outcome is ignored): callers make sure nothing it could still
 * do matters (the scheduler refuses changes once closed, the generator once stopped).
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  work.catch(() => undefined); // an abandoned rejection is not an unhandled one
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new AbortedError(abortReason(signal)));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError(abortReason(signal)));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Waits for `work` at most `ms`; true when it settled in time. */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
