/**
 * The one retry policy of the sidecar's requests (downloads and metadata): a failure the caller's
 * `classify` calls worth retrying is tried again after a jittered exponential back-off (a Retry-After
 * asking for longer wins, up to the policy's cap); a try that moved the work forward does not count
 * against the limit; a cancel ends the wait at once. What counts as worth retrying is the caller's to say.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  readonly maxAttempts: number;
  /** The first back-off; each one after it doubles, up to 30 s. */
  readonly baseMs: number;
  /** The longest wait of all, the server's Retry-After included; 5 minutes unless said. */
  readonly maxWaitMs?: number;
  /** Told of each retry before its wait. */
  readonly log?: (line: string) => void;
}

/** A failure worth another try: what it was (for the log and the final error), and how long the server asked to wait. */
export interface Retryable {
  readonly message: string;
  readonly retryAfterMs?: number | undefined;
}

export interface RetryOptions {
  /** The failure as a retry, or undefined when it is not worth one (it is then thrown as it is). */
  readonly classify: (error: unknown) => Retryable | undefined;
  /** How far the work got (bytes, say): a try that moved it on starts the count again. */
  readonly progressOf?: () => number;
  readonly signal?: AbortSignal;
  /** What a cancel throws, during a try or a wait; the signal's reason unless said. */
  readonly cancelled?: () => unknown;
}

/** The tries ran out: `lastMessage` is the last failure's, `cause` the last error itself. */
export class GaveUpError extends Error {
  readonly attempts: number;
  readonly lastMessage: string;

  constructor(attempts: number, lastMessage: string, cause: unknown) {
    super(`Gave up after ${attempts} tries: ${lastMessage}`, { cause });
    this.name = "GaveUpError";
    this.attempts = attempts;
    this.lastMessage = lastMessage;
  }
}

// however many tries failed, a back-off alone never grows past this: a longer wait only when a server asks
const BACKOFF_CAP_MS = 30_000;
const MAX_WAIT_MS = 300_000;

/**
 * The wait before retry number `attempt` (1 for the first): `baseMs * 2^(attempt-1)`, capped at 30 s, times a
 * jitter between 1/2 and 1 (so that many clients turned away together do not come back together); a
 * Retry-After asking for longer wins, up to `maxWaitMs`.
 */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, "baseMs" | "maxWaitMs">, retryAfterMs?: number, random = Math.random): number {
  const backoff = Math.min(BACKOFF_CAP_MS, policy.baseMs * 2 ** (attempt - 1)) * (0.5 + random() / 2);
  return Math.min(policy.maxWaitMs ?? MAX_WAIT_MS, Math.max(backoff, retryAfterMs ?? 0));
}

/** Runs `work` until it succeeds, fails in a way not worth retrying, runs out of tries, or is cancelled. */
export async function retrying<T>(policy: RetryPolicy, work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { classify, progressOf = () => 0, signal } = options;
  const cancelled = () => (options.cancelled ? options.cancelled() : signal?.reason);
  let attempts = 0;
  let before = progressOf();
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (signal?.aborted) throw cancelled();
      const retry = classify(error);
      if (retry === undefined) throw error;
      if (progressOf() > before) attempts = 0;
      before = progressOf();
      attempts += 1;
      if (attempts >= policy.maxAttempts) throw new GaveUpError(attempts, retry.message, error);
      const wait = backoffMs(attempts, policy, retry.retryAfterMs);
      policy.log?.(`${retry.message}; retry ${attempts} of ${policy.maxAttempts - 1} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, undefined, signal && { signal }).catch(() => {
        throw cancelled();
      });
    }
  }
}
