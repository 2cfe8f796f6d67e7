/** What a download is asked to do, and what it answers when it is done. */
import type { RateLimiter } from "./rate-limit";
import type { DiskRoom } from "./room";
import type { Source } from "./source";

export interface DownloadJob {
  readonly target: string;
  readonly source: Source;
  /** From the catalog; Hugging Face's X-Linked-Etag is used when the catalog has none. */
  readonly sha256: string | undefined;
  /** The most connections, when no live limits say otherwise. */
  readonly connections: number;
  /** The sidecar's settings as they change: read on each tick of the transfer (undefined: `connections`, no cap). */
  readonly live?: LiveLimits;
  readonly stallMs: number;
  readonly retryBaseMs: number;
  readonly maxAttempts: number;
  readonly hasCivitaiKey: boolean;
  /** What the other downloads of this process have yet to write: a download must fit beside them. */
  readonly room: DiskRoom;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

/** What a person may change while downloads run (the settings file), shared by every download of the sidecar. */
export interface LiveLimits {
  /** connections_per_file now. */
  readonly connections: number;
  /** The one bandwidth budget of every download and connection. */
  readonly limiter: RateLimiter;
}

export interface DownloadResult {
  readonly bytes: number;
  /** Bytes that were already on disk from an earlier attempt. */
  readonly resumedFrom: number;
  readonly sha256: string | undefined;
  readonly verified: boolean;
  /** The finished file's mtime (its size is `bytes`): with the SHA256, what the hash cache keeps of it. */
  readonly mtimeMs: number;
}
