/**
 * A download's side of the shared retry policy (lib/net/retry.ts): its settings, and which of its failures
 * are worth another try. A DownloadError marked retryable is (with the server's Retry-After, waited up to
 * 5 minutes); one that needs a start from byte 0 is not (the engine starts over itself); a cancel ends the
 * download as a CancelledError. Giving up becomes a DownloadError in asDownloadError (errors.ts).
 */
import { retrying, type Retryable, type RetryOptions, type RetryPolicy } from "../../net/retry";
import { asDownloadError, CancelledError } from "./errors";
import type { DownloadJob } from "./job";

/** The policy of this download's settings (DOWNLOAD_MAX_ATTEMPTS, DOWNLOAD_RETRY_BASE_MS), logged to its log. */
export function downloadPolicy(job: Pick<DownloadJob, "maxAttempts" | "retryBaseMs" | "log">): RetryPolicy {
  return { maxAttempts: job.maxAttempts, baseMs: job.retryBaseMs, maxWaitMs: 300_000, log: job.log };
}

/** A failure as the policy's verdict: a retry of a retryable DownloadError, else nothing. */
export function classifyDownloadFailure(error: unknown): Retryable | undefined {
  const failure = asDownloadError(error);
  if (failure instanceof CancelledError || !failure.retryable || failure.restart) return undefined;
  return { message: failure.message, retryAfterMs: failure.retryAfterMs };
}

/** How a download's failures are told apart and how its cancel is thrown, for `retrying`'s options. */
const downloadFailures = {
  classify: classifyDownloadFailure,
  cancelled: () => new CancelledError(),
} satisfies Pick<RetryOptions, "classify" | "cancelled">;

/** Runs `work` under `policy` as a download's request: its failures told apart as above, progress as `progressOf` says. */
export function retryingDownload<T>(policy: RetryPolicy, work: () => Promise<T>, progressOf: () => number, signal: AbortSignal): Promise<T> {
  return retrying(policy, work, { ...downloadFailures, progressOf, signal });
}
