/**
 * The retry policy of a download's requests: what is worth retrying is retried with jittered exponential
 * back-off (a Retry-After asking for longer wins, up to 5 minutes); a try that moved data forward does not
 * count against the limit; a cancel ends the wait at once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { asDownloadError, CancelledError, DownloadError } from "./errors";

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly log: (line: string) => void;
}

/** Runs `work` until it succeeds, fails for good, or `signal` aborts; `progressOf` says how far the data got. */
export async function retrying<T>(policy: RetryPolicy, progressOf: () => number, work: () => Promise<T>, signal: AbortSignal): Promise<T> {
  const { maxAttempts, retryBaseMs, log } = policy;
  let attempts = 0;
  let before = progressOf();
  for (;;) {
    try {
      return await work();
    } catch (error) {
      const failure = asDownloadError(error);
      if (failure instanceof CancelledError || signal.aborted) throw new CancelledError();
      if (!failure.retryable || failure.restart) throw failure;
      if (progressOf() > before) attempts = 0;
      before = progressOf();
      attempts += 1;
      if (attempts >= maxAttempts) throw new DownloadError(`Gave up after ${attempts} tries: ${failure.message}`);
      const backoff = Math.min(30_000, retryBaseMs * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
      const wait = Math.min(300_000, Math.max(backoff, failure.retryAfterMs ?? 0));
      log(`${failure.message}; retry ${attempts} of ${maxAttempts - 1} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, undefined, { signal }).catch(() => {
        throw new CancelledError();
      });
    }
  }
}
