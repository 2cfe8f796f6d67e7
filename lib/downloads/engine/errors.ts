import { GaveUpError } from "../../net/retry";
import { redactSecrets } from "../../redact";

/**
 * A download failure said so that a person can act on it. `retryable` ones (resets, 5xx, 429, stalls,
 * an expired signed URL) are tried again with back-off; the others end the download at once.
 */
export class DownloadError extends Error {
  readonly retryable: boolean;
  /** Seconds the server asked us to wait (429 Retry-After). */
  readonly retryAfterMs: number | undefined;
  /** The signed URL is no longer good: resolve the source again before retrying. */
  readonly reResolve: boolean;
  /** What is on disk cannot be continued (validator changed, range ignored): start from byte 0. */
  readonly restart: boolean;

  constructor(
    message: string,
    options: { retryable?: boolean; retryAfterMs?: number; reResolve?: boolean; restart?: boolean; cause?: unknown } = {},
  ) {
    // what a request's URL or headers carried; the configured credentials are the worker's and the log's to hide
    super(redactSecrets(message, []), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DownloadError";
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.reResolve = options.reResolve ?? false;
    this.restart = options.restart ?? false;
  }
}

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "CancelledError";
  }
}

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** Any error from the network layer, as a DownloadError: connection-level trouble is worth retrying. */
export function asDownloadError(error: unknown): DownloadError | CancelledError {
  if (error instanceof DownloadError || error instanceof CancelledError) return error;
  // the retry policy ran out of tries: that is the download's end, said as the policy says it
  if (error instanceof GaveUpError) return new DownloadError(error.message, { cause: error });
  const e = error as NodeJS.ErrnoException;
  if (e?.name === "AbortError") return new CancelledError();
  const transient = TRANSIENT_CODES.has(e?.code ?? "") || /socket hang up|aborted|premature/i.test(e?.message ?? "");
  if (e?.code === "ENOSPC") return new DownloadError("The disk is full: no room left to write the download", { cause: error });
  if (transient) return new DownloadError(`Network error: ${e?.code ?? e?.message}`, { retryable: true, cause: error });
  // the partial is opened with O_NOFOLLOW: a link planted there is refused, and said so in words
  if (e?.code === "ELOOP") {
    const where = e.path === undefined ? "" : ` (${e.path})`;
    return new DownloadError(`A link sits where the download is written${where}; it is never written through: remove it, or DELETE the model`, { cause: error });
  }
  // anything else happened here (a folder not writable, ...): say it as it is
  return new DownloadError(e?.message ?? String(error), { cause: error });
}
