// The shapes the upstream stand-in and its test client share: a file's registration, the request log, the
// per-file counters, and canned answers.

export type Mode =
  | "normal"
  | "no-range"
  | "drop-half"
  | "stall"
  | `status-${number}`
  | "flaky-500"
  | "rate-429"
  | "html"
  | "wrong-bytes"
  | "change-etag-after-first"
  | "gated"
  | "needs-token"
  | "early-access"
  | "slow";

export interface FileSpec {
  /** Any string; may contain slashes. HF files are `<owner>/<repo>/<path>`, CivitAI files `civitai/<versionId>`. */
  id: string;
  size: number;
  /** Default 0. */
  seed?: number;
  /** Default "normal". */
  mode?: Mode;
  /** Full ETag header value, quotes included. Default `"<first 16 hex of sha256>"`. */
  etag?: string;
  /** Default application/octet-stream. */
  contentType?: string;
  /** CivitAI signed URL lifetime. Default 60000. */
  signedTtlMs?: number;
  /** CivitAI signed URL: how many GETs one signed URL serves before it answers 403 "expired". Default unlimited. */
  signedUses?: number;
  /** drop-half: how many GETs are cut. Default 1. */
  dropCount?: number;
  /** Throttle per connection, in any mode (a CDN that limits each connection). Default 2 MiB/s in slow mode, else none. */
  bytesPerSecond?: number;
  /** File name (CivitAI files[].name, Content-Disposition on signed storage). Default from the id. */
  name?: string;
  /** CivitAI files: what the API says of the version and its model (civitai-models.ts has the defaults). */
  civitai?: CivitaiFacts;
}

/**
 * A CivitAI version's facts as /api/v1/model-versions/<id> and /api/v1/models/<id> give them. Versions that
 * share a modelId are one model's, listed newest first by publishedAt.
 */
export interface CivitaiFacts {
  modelId?: number;
  modelName?: string;
  /** CivitAI's ModelType: Checkpoint, LORA, LoCon, DoRA, TextualInversion, VAE, Controlnet, Upscaler, ... */
  type?: string;
  versionName?: string;
  baseModel?: string;
  /** Published, Draft, Scheduled, ... */
  status?: string;
  /** ISO time; null for a version never published. */
  publishedAt?: string | null;
  tags?: string[];
  trainedWords?: string[];
}

export interface RegisteredFile {
  id: string;
  size: number;
  /** Hex sha256 of the registered content (what the "catalog"/HF/CivitAI metadata claims). */
  sha256: string;
}

export interface Tokens {
  hf?: string;
  civitai?: string;
}

export type Route =
  | "canned"
  | "files"
  | "hf-resolve"
  | "hf-api"
  | "cdn"
  | "civitai-download"
  | "civitai-api"
  | "civitai-by-hash"
  | "signed"
  | "unknown";

export interface LogEntry {
  seq: number;
  /** ms epoch when the request arrived */
  time: number;
  method: string;
  /** path with query, as received */
  path: string;
  /** Host header as received ("" if none) */
  host: string;
  authorization: string | null;
  range: string | null;
  ifRange: string | null;
  userAgent: string | null;
  route: Route;
  fileId: string | null;
  /** status sent (0 if none was sent yet) */
  status: number;
  /** body bytes handed to the socket */
  bytesSent: number;
  /** response ended normally */
  finished: boolean;
  /** connection closed before the response ended (by us for drop/stall, or by the client) */
  aborted: boolean;
}

export interface FileStats {
  /** every logged request that touched the file (resolve/api steps, HEADs and byte GETs) */
  requests: number;
  /** GETs on byte-serving routes (files/cdn/signed): what the fault counters count */
  gets: number;
  /** body bytes of file content handed to sockets */
  bytesSent: number;
}

export interface Upstream {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** http://localhost:<port>: same server, another host name */
  altUrl: string;
  close(): Promise<void>;
}

/**
 * A canned answer for an exact method and path (query ignored), taking precedence over every route:
 * real-shaped API payloads, errors, a 429 with Retry-After, or a request that hangs (`delayMs`).
 * With `times`, it answers that many requests and then steps aside for the next canned one or the route.
 * With `reset`, it closes the connection instead of answering, as a reset one or a dropped keep-alive does.
 */
export interface Canned {
  method?: string;
  path: string;
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  delayMs?: number;
  times?: number;
  reset?: boolean;
}
