/**
 * What the upstream stand-in holds while it runs (the registered files, the tokens, the request log) and
 * the shape of one of its endpoints. Each upstream's module (plain, huggingface, civitai) serves its routes
 * from this state; control.ts changes it; server.ts owns it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { digest } from "./content";
import { BadRequest } from "./http";
import { parseCivitaiFacts } from "./civitai-facts";
import type { Canned, CivitaiFacts, FileSpec, LogEntry, Mode, Route } from "./types";

export interface FileState {
  spec: Required<Omit<FileSpec, "etag" | "signedUses" | "civitai">> & { etag: string; signedUses?: number; civitai?: CivitaiFacts };
  sha256: string;
  crc32: number;
  /** byte-serving GETs so far */
  gets: number;
  requests: number;
  bytesSent: number;
  /** content generation: 0 = registered; change-etag-after-first moves to 1 */
  generation: number;
}

/** The stand-in's state, shared by every route, and what a route needs of the server. */
export interface Context {
  readonly files: Map<string, FileState>;
  readonly canned: Canned[];
  /** GETs served per signed URL (by its signature), for files registered with `signedUses` */
  readonly signedUsed: Map<string, number>;
  tokens: { hf: string | null; civitai: string | null };
  readonly log: LogEntry[];
  /** Requests still being answered: the log reads their status from here. */
  readonly inflight: Map<LogEntry, ServerResponse>;
  /** The server is closing: byte streams stop. */
  readonly closing: boolean;
  /** The base URL on the other host name than the one this request used (a CDN is another host). */
  otherHost(req: IncomingMessage): string;
  /** The base URL on the host name this request used. */
  sameHost(req: IncomingMessage): string;
  /** Waits `ms`, or until `res` closes; cut short when the server closes. */
  sleep(ms: number, res: ServerResponse): Promise<void>;
}

/** One request being answered, and its log entry. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly entry: LogEntry;
  readonly url: URL;
}

/** One route of an upstream: the requests whose path matches `pattern`, with one of `methods`. */
export interface Endpoint {
  readonly route: Route;
  readonly methods: readonly string[];
  readonly pattern: RegExp;
  serve(ctx: Context, ex: Exchange, match: RegExpExecArray): Promise<void> | void;
}

export const GET_OR_HEAD = ["GET", "HEAD"] as const;

/** What every real upstream reports as the files' modification time. */
export const LAST_MODIFIED = new Date(Date.UTC(2024, 0, 15, 12, 0, 0));

/** Marks the request as one for `f` (when there is one) and counts it on the file. */
export function touch(ex: Exchange, f: FileState | undefined): void {
  if (f) {
    ex.entry.fileId = f.spec.id;
    f.requests++;
  }
}

const MODES = new Set<string>([
  "normal",
  "no-range",
  "drop-half",
  "stall",
  "flaky-500",
  "rate-429",
  "html",
  "wrong-bytes",
  "change-etag-after-first",
  "gated",
  "needs-token",
  "early-access",
  "slow",
]);

const isMode = (v: unknown): v is Mode => typeof v === "string" && (MODES.has(v) || /^status-[1-5]\d\d$/.test(v));

/** A FileSpec from a control request's body; BadRequest names the first field that is wrong. */
export function parseSpec(body: unknown): FileSpec {
  if (typeof body !== "object" || body === null) throw new BadRequest("body must be a JSON object");
  const b = body as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new BadRequest(`${k} must be a string`);
    return v;
  };
  const num = (k: string, min: number): number | undefined => {
    const v = b[k];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new BadRequest(`${k} must be a number >= ${min}`);
    return v;
  };
  const id = str("id");
  if (!id || id.startsWith("/") || id.split("/").some((s) => s === "" || s === "." || s === ".."))
    throw new BadRequest("id must be a non-empty relative path");
  const size = num("size", 0);
  if (size === undefined || !Number.isSafeInteger(size)) throw new BadRequest("size must be a non-negative integer");
  const mode = b.mode;
  if (mode !== undefined && !isMode(mode)) throw new BadRequest(`unknown mode ${String(mode)}`);
  const spec: FileSpec = { id, size };
  const seed = num("seed", -Number.MAX_SAFE_INTEGER);
  if (seed !== undefined) spec.seed = seed;
  if (mode !== undefined) spec.mode = mode;
  const etag = str("etag");
  if (etag !== undefined) spec.etag = etag;
  const contentType = str("contentType");
  if (contentType !== undefined) spec.contentType = contentType;
  const signedTtlMs = num("signedTtlMs", 0);
  if (signedTtlMs !== undefined) spec.signedTtlMs = signedTtlMs;
  const signedUses = num("signedUses", 1);
  if (signedUses !== undefined) spec.signedUses = signedUses;
  const dropCount = num("dropCount", 0);
  if (dropCount !== undefined) spec.dropCount = dropCount;
  const bytesPerSecond = num("bytesPerSecond", 1);
  if (bytesPerSecond !== undefined) spec.bytesPerSecond = bytesPerSecond;
  const name = str("name");
  if (name !== undefined) spec.name = name;
  if (b.civitai !== undefined) spec.civitai = parseCivitaiFacts(b.civitai);
  return spec;
}

/** A registered file: the spec with its defaults, and the digests of its content. */
export async function newFile(spec: FileSpec): Promise<FileState> {
  const seed = spec.seed ?? 0;
  const d = await digest(spec.id, spec.size, seed);
  const base = spec.id.split("/").pop() ?? spec.id;
  return {
    spec: {
      id: spec.id,
      size: spec.size,
      seed,
      mode: spec.mode ?? "normal",
      etag: spec.etag ?? `"${d.sha256.slice(0, 16)}"`,
      contentType: spec.contentType ?? "application/octet-stream",
      signedTtlMs: spec.signedTtlMs ?? 60_000,
      dropCount: spec.dropCount ?? 1,
      bytesPerSecond: spec.bytesPerSecond ?? (spec.mode === "slow" ? 2 * 1024 * 1024 : 0),
      name: spec.name ?? (spec.id.startsWith("civitai/") ? `model-${base}.safetensors` : base),
      ...(spec.signedUses !== undefined && { signedUses: spec.signedUses }),
      ...(spec.civitai !== undefined && { civitai: spec.civitai }),
    },
    sha256: d.sha256,
    crc32: d.crc32,
    gets: 0,
    requests: 0,
    bytesSent: 0,
    generation: 0,
  };
}
