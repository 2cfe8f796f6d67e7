/**
 * A fake upstream for the download engine's tests: one local HTTP server on 127.0.0.1 that plays CivitAI,
 * Hugging Face, their CDNs / signed storage, and a plain file host, with fault injection per file.
 *
 * It is started once per run (vitest globalSetup, main process) and driven by the test files (workers) only
 * over HTTP: `/_control/*` endpoints, wrapped by `upstreamClient()`.
 *
 * File content is deterministic pseudo-random bytes from (id, seed), generated lazily in 64 KiB blocks
 * (block k depends only on (seed, id, k)), so files of any size cost no memory and ranges start anywhere.
 * `fileBytes()` / `fileSha256()` compute the same content in-process for expectations.
 *
 * Routes (ids may contain slashes; each path segment may be percent-encoded):
 *   GET|HEAD /files/<id>                                    plain host, serves bytes
 *   GET|HEAD /<owner>/<repo>/resolve/<rev>/<path>            HF resolve: 302 to the CDN on the *other* host name
 *                                                           (id = <owner>/<repo>/<path>)
 *   GET      /api/models/<owner>/<repo>                      HF model info
 *   GET|HEAD /cdn/<id>?sig=...                               HF CDN, serves bytes
 *   GET|HEAD /api/download/models/<versionId>?token=...      CivitAI: 307 to signed storage (id = civitai/<versionId>)
 *   GET      /api/v1/model-versions/<versionId>              CivitAI version info
 *   GET|HEAD /signed/<id>?X-Amz-...&exp=<ms>                 CivitAI signed storage, serves bytes until `exp`
 *
 * Control:
 *   POST   /_control/files              register a file (FileSpec) -> RegisteredFile
 *   GET    /_control/files/<id>/stats   -> FileStats
 *   POST   /_control/tokens             { hf?, civitai? } (replaces both)
 *   GET    /_control/log                -> LogEntry[] (control requests are not logged)
 *   DELETE /_control/log                clears the log only
 *   POST   /_control/reset              clears log, files and tokens
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { crc32 } from "node:zlib";

// ---------------------------------------------------------------------------------------------------------
// Types shared by server and client
// ---------------------------------------------------------------------------------------------------------

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
  /** slow: throttle per connection. Default 2 MiB/s. */
  bytesPerSecond?: number;
  /** File name (CivitAI files[].name, Content-Disposition on signed storage). Default from the id. */
  name?: string;
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

// ---------------------------------------------------------------------------------------------------------
// Deterministic content
// ---------------------------------------------------------------------------------------------------------

export const BLOCK_SIZE = 64 * 1024;
const WORDS_PER_BLOCK = BLOCK_SIZE / 4;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const baseKeys = new Map<string, Uint32Array>();

function baseKey(id: string, seed: number): Uint32Array {
  const k = `${seed}\0${id}`;
  let key = baseKeys.get(k);
  if (!key) {
    const d = createHash("sha256").update(k).digest();
    key = new Uint32Array([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]);
    if (baseKeys.size > 10_000) baseKeys.clear();
    baseKeys.set(k, key);
  }
  return key;
}

/** Block `index` (64 KiB, xorshift128 seeded from (seed, id, index)). Little-endian words, as on every host we run on. */
function block(key: Uint32Array, index: number): Buffer {
  const lo = index >>> 0;
  const hi = Math.floor(index / 2 ** 32) >>> 0;
  let x = fmix32((key[0] ?? 0) ^ fmix32(lo + 0x632be5ab)) | 0;
  let y = fmix32((key[1] ?? 0) ^ fmix32(hi + 0x9e3779b9)) | 0;
  let z = fmix32((key[2] ?? 0) ^ fmix32(lo ^ 0x85157af5)) | 0;
  let w = fmix32((key[3] ?? 0) ^ fmix32(~lo ^ hi)) | 0;
  if ((x | y | z | w) === 0) w = 1;
  const out = new Uint32Array(WORDS_PER_BLOCK);
  for (let i = 0; i < 8; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
  }
  for (let i = 0; i < WORDS_PER_BLOCK; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
    out[i] = w;
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Yields the bytes [start, end) of the content of (id, seed) in pieces of at most `chunk` bytes, block-aligned. */
function* chunks(id: string, seed: number, start: number, end: number, chunk = BLOCK_SIZE): Generator<Buffer> {
  const key = baseKey(id, seed);
  let pos = start;
  let cached: { index: number; data: Buffer } | null = null;
  while (pos < end) {
    const index = Math.floor(pos / BLOCK_SIZE);
    if (!cached || cached.index !== index) cached = { index, data: block(key, index) };
    const from = pos - index * BLOCK_SIZE;
    const to = Math.min(BLOCK_SIZE, end - index * BLOCK_SIZE, from + chunk);
    yield cached.data.subarray(from, to);
    pos += to - from;
  }
}

/** The content bytes [start, end) (end exclusive) of file `id` with `seed`. Meant for small ranges. */
export function fileBytes(id: string, seed: number, start: number, end: number): Buffer {
  if (!(start >= 0 && end >= start)) throw new RangeError(`bad range ${start}..${end}`);
  return Buffer.concat([...chunks(id, seed, start, end)]);
}

/** Hex sha256 of the whole content of `id` (size bytes, seed). Synchronous; ~1 s per GiB. */
export function fileSha256(id: string, size: number, seed = 0): string {
  const hash = createHash("sha256");
  for (const c of chunks(id, seed, 0, size)) hash.update(c);
  return hash.digest("hex");
}

/** The seed actually served for `wrong-bytes` (generation 1) and for `change-etag-after-first` after the change. */
export function alteredSeed(seed: number, generation = 1): number {
  return seed + 1_000_003 * generation;
}

interface Digest {
  sha256: string;
  crc32: number;
}
const digests = new Map<string, Promise<Digest>>();

/** sha256 + crc32 computed by streaming, yielding to the event loop every 4 MiB; memoised. */
function digest(id: string, size: number, seed: number): Promise<Digest> {
  const k = `${seed}\0${size}\0${id}`;
  let p = digests.get(k);
  if (!p) {
    p = (async () => {
      const hash = createHash("sha256");
      let crc = 0;
      let n = 0;
      for (const c of chunks(id, seed, 0, size)) {
        hash.update(c);
        crc = crc32(c, crc);
        if (++n % 64 === 0) await new Promise<void>((r) => setImmediate(r));
      }
      return { sha256: hash.digest("hex"), crc32: crc >>> 0 };
    })();
    digests.set(k, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Server state
// ---------------------------------------------------------------------------------------------------------

interface FileState {
  spec: Required<Omit<FileSpec, "etag" | "signedUses">> & { etag: string; signedUses?: number };
  sha256: string;
  crc32: number;
  /** byte-serving GETs so far */
  gets: number;
  requests: number;
  bytesSent: number;
  /** content generation: 0 = registered; change-etag-after-first moves to 1 */
  generation: number;
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

const LAST_MODIFIED = new Date(Date.UTC(2024, 0, 15, 12, 0, 0));
const STALL_MAX_MS = 120_000;

const HTML_LOGIN = `<!DOCTYPE html><html><head><title>Sign in</title><meta charset="utf-8"></head>
<body><form method="post" action="/login"><h1>Sign in to continue</h1>
<input name="email" type="email"><input name="password" type="password"><button>Sign in</button></form></body></html>
`;

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  410: "Gone",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

class BadRequest extends Error {}

function parseSpec(body: unknown): FileSpec {
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
  return spec;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 1024 * 1024) throw new BadRequest("body too large");
    parts.push(c);
  }
  const text = Buffer.concat(parts).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BadRequest("body is not JSON");
  }
}

/** Decodes each segment of a path tail ("a%20b/c" -> "a b/c"). Returns null on malformed encoding. */
function decodePath(p: string): string | null {
  try {
    return p.split("/").map(decodeURIComponent).join("/");
  } catch {
    return null;
  }
}

const encodePath = (id: string): string => id.split("/").map(encodeURIComponent).join("/");

const header = (req: IncomingMessage, name: string): string | null => {
  const v = req.headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(", ") : v;
};

/** A fake 40-hex commit for a repo. */
const commitOf = (repo: string): string => createHash("sha1").update(`commit:${repo}`).digest("hex");

/** Parses a single `bytes=` range. undefined = no usable Range (serve 200); "unsatisfiable" = 416. */
function parseRange(value: string | null, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  if (value === null) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!m) return undefined; // multi-range or garbage: ignore the header (RFC 7233 allows)
  const a = m[1] ?? "";
  const b = m[2] ?? "";
  if (a === "" && b === "") return undefined;
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? Number.MAX_SAFE_INTEGER : Number(b);
  if (end < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

// ---------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------

export async function startUpstream(): Promise<Upstream> {
  const files = new Map<string, FileState>();
  const canned: Canned[] = [];
  // GETs served per signed URL (by its signature), for files registered with `signedUses`
  const signedUsed = new Map<string, number>();
  let tokens: { hf: string | null; civitai: string | null } = { hf: null, civitai: null };
  let log: LogEntry[] = [];
  let seq = 0;
  const timers = new Set<NodeJS.Timeout>();
  let port = 0;
  let closing = false;

  const url = () => `http://127.0.0.1:${port}`;
  const altUrl = () => `http://localhost:${port}`;
  /** The base URL on the other host name than the one this request used. */
  const otherHost = (req: IncomingMessage): string =>
    (req.headers.host ?? "").toLowerCase().startsWith("localhost") ? url() : altUrl();
  const sameHost = (req: IncomingMessage): string => `http://${req.headers.host ?? `127.0.0.1:${port}`}`;

  const sleep = (ms: number, res: ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(done, ms);
      timers.add(t);
      function done() {
        clearTimeout(t);
        timers.delete(t);
        res.off("close", done);
        resolve();
      }
      res.once("close", done);
    });

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(res.req.method === "HEAD" ? undefined : text);
  };

  const text = (res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), ...headers });
    res.end(res.req.method === "HEAD" ? undefined : body);
  };

  const s3Error = (res: ServerResponse, status: number, code: string, message: string) =>
    text(
      res,
      status,
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
      "application/xml",
    );

  const etagOf = (f: FileState): string => {
    if (f.generation === 0) return f.spec.etag;
    const inner = f.spec.etag.replace(/^W\//, "").replace(/"/g, "");
    return `"${createHash("sha256").update(`${inner}:gen${f.generation}`).digest("hex").slice(0, 16)}"`;
  };
  const lastModifiedOf = (f: FileState): string =>
    new Date(LAST_MODIFIED.getTime() + f.generation * 86_400_000).toUTCString();
  const servedSeed = (f: FileState): number =>
    f.spec.mode === "wrong-bytes" ? alteredSeed(f.spec.seed) : alteredSeed(f.spec.seed, f.generation);

  /** Serves the bytes of `f` (plain host, HF CDN, signed storage), applying the file's fault mode. */
  async function serveBytes(req: IncomingMessage, res: ServerResponse, entry: LogEntry, f: FileState, extra: Record<string, string> = {}) {
    const isGet = req.method === "GET";
    const mode = f.spec.mode;
    const get = isGet ? ++f.gets : f.gets;

    if (mode.startsWith("status-")) {
      const code = Number(mode.slice("status-".length));
      json(res, code, { error: STATUS_TEXT[code] ?? `Status ${code}`, status: code });
      return;
    }
    if (isGet && mode === "flaky-500" && get <= 2) {
      json(res, 500, { error: "Internal Server Error" });
      return;
    }
    if (isGet && mode === "rate-429" && get === 1) {
      json(res, 429, { error: "Too Many Requests" }, { "Retry-After": "1" });
      return;
    }
    if (mode === "html") {
      text(res, 200, HTML_LOGIN, "text/html; charset=utf-8");
      return;
    }

    // the representation this request sees (change-etag moves on after the first GET has started)
    const seed = servedSeed(f);
    const etag = etagOf(f);
    const lastModified = lastModifiedOf(f);
    const size = f.spec.size;
    let cut: "drop" | "stall" | null = null;
    if (isGet && (mode === "drop-half" || mode === "change-etag-after-first") && get <= (mode === "drop-half" ? f.spec.dropCount : 1))
      cut = "drop";
    if (isGet && mode === "stall" && get === 1) cut = "stall";
    if (isGet && mode === "change-etag-after-first" && get === 1) f.generation = 1;

    const headers: Record<string, string | number> = {
      "Content-Type": f.spec.contentType,
      ETag: etag,
      "Last-Modified": lastModified,
      ...extra,
    };
    let range: ReturnType<typeof parseRange> = undefined;
    if (mode !== "no-range") {
      headers["Accept-Ranges"] = "bytes";
      range = parseRange(header(req, "range"), size);
      const ifRange = header(req, "if-range");
      if (range !== undefined && ifRange !== null && ifRange !== etag && ifRange !== lastModified) range = undefined;
    }
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...headers, "Content-Range": `bytes */${size}`, "Content-Length": 0 });
      res.end();
      return;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end + 1 : size;
    headers["Content-Length"] = end - start;
    if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (!isGet) {
      res.end();
      return;
    }
    res.flushHeaders();

    const length = end - start;
    const stopAt =
      cut === "drop" ? start + Math.floor(length / 2) : cut === "stall" ? start + Math.min(1024 * 1024, Math.floor(length / 2)) : end;
    const bps = mode === "slow" ? f.spec.bytesPerSecond : 0;
    const chunkSize = bps > 0 ? Math.max(1024, Math.min(BLOCK_SIZE, Math.floor(bps / 20))) : BLOCK_SIZE;
    const began = Date.now();
    let written = 0;
    let gone = false;
    res.once("close", () => {
      gone = true;
    });
    const onWritten = (n: number) => (err?: Error | null) => {
      if (err) return;
      entry.bytesSent += n;
      f.bytesSent += n;
    };

    let last: Promise<void> = Promise.resolve();
    for (const c of chunks(f.spec.id, seed, start, stopAt, chunkSize)) {
      if (gone || res.destroyed || closing) return;
      if (bps > 0) {
        const due = (written / bps) * 1000 - (Date.now() - began);
        if (due > 0) await sleep(due, res);
        if (gone || res.destroyed || closing) return;
      }
      const n = c.length;
      const cb = onWritten(n);
      last = new Promise<void>((resolve) => {
        res.once("close", resolve);
        res.write(c, (err) => {
          cb(err);
          res.off("close", resolve);
          resolve();
        });
      });
      written += n;
      if (res.writableNeedDrain) await drainOrClose(res);
    }
    if (cut === null) {
      res.end();
      return;
    }
    await last;
    if (gone || res.destroyed) return;
    if (cut === "drop") {
      res.socket?.destroy();
      res.destroy();
      return;
    }
    // stall: keep the socket open, send nothing, until the client gives up (or 120 s)
    await sleep(STALL_MAX_MS, res);
    res.socket?.destroy();
    res.destroy();
  }

  function drainOrClose(res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.once("drain", done);
      res.once("close", done);
    });
  }

  function hfGatedOk(req: IncomingMessage): boolean {
    const auth = header(req, "authorization");
    return tokens.hf !== null && auth === `Bearer ${tokens.hf}`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: LogEntry) {
    const u = new URL(req.url ?? "/", "http://upstream.invalid");
    const p = u.pathname;
    const method = req.method ?? "GET";
    const getOrHead = method === "GET" || method === "HEAD";
    const touch = (f: FileState | undefined) => {
      if (f) {
        entry.fileId = f.spec.id;
        f.requests++;
      }
    };
    let m: RegExpExecArray | null;

    // ---- control -----------------------------------------------------------------------------------------
    if (p.startsWith("/_control/")) {
      if (p === "/_control/files" && method === "POST") {
        const spec = parseSpec(await readJson(req));
        const seed = spec.seed ?? 0;
        const d = await digest(spec.id, spec.size, seed);
        const base = spec.id.split("/").pop() ?? spec.id;
        files.set(spec.id, {
          spec: {
            id: spec.id,
            size: spec.size,
            seed,
            mode: spec.mode ?? "normal",
            etag: spec.etag ?? `"${d.sha256.slice(0, 16)}"`,
            contentType: spec.contentType ?? "application/octet-stream",
            signedTtlMs: spec.signedTtlMs ?? 60_000,
            dropCount: spec.dropCount ?? 1,
            bytesPerSecond: spec.bytesPerSecond ?? 2 * 1024 * 1024,
            name: spec.name ?? (spec.id.startsWith("civitai/") ? `model-${base}.safetensors` : base),
            ...(spec.signedUses !== undefined && { signedUses: spec.signedUses }),
          },
          sha256: d.sha256,
          crc32: d.crc32,
          gets: 0,
          requests: 0,
          bytesSent: 0,
          generation: 0,
        });
        json(res, 200, { id: spec.id, size: spec.size, sha256: d.sha256 } satisfies RegisteredFile);
        return;
      }
      if ((m = /^\/_control\/files\/(.+)\/stats$/.exec(p)) && method === "GET") {
        const id = decodePath(m[1] ?? "");
        const f = id === null ? undefined : files.get(id);
        if (!f) return json(res, 404, { error: `no file ${id}` });
        return json(res, 200, { requests: f.requests, gets: f.gets, bytesSent: f.bytesSent } satisfies FileStats);
      }
      if (p === "/_control/tokens" && method === "POST") {
        const raw = await readJson(req);
        if (typeof raw !== "object" || raw === null) throw new BadRequest("body must be a JSON object");
        const body = raw as Record<string, unknown>;
        const pick = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
        tokens = { hf: pick(body.hf), civitai: pick(body.civitai) };
        return json(res, 200, { ok: true });
      }
      if (p === "/_control/log" && method === "GET") {
        for (const [e, r] of inflight) if (r.headersSent) e.status = r.statusCode;
        return json(res, 200, log);
      }
      if (p === "/_control/log" && method === "DELETE") {
        log = [];
        return json(res, 200, { ok: true });
      }
      if (p === "/_control/canned" && method === "POST") {
        canned.push((await readJson(req)) as Canned);
        return json(res, 200, { ok: true });
      }
      if (p === "/_control/reset" && method === "POST") {
        canned.length = 0;
        log = [];
        files.clear();
        signedUsed.clear();
        tokens = { hf: null, civitai: null };
        return json(res, 200, { ok: true });
      }
      return json(res, 404, { error: `no control route ${method} ${p}` });
    }

    // ---- canned answers ----------------------------------------------------------------------------------
    const answer = canned.find((c) => c.path === p && (c.method ?? "GET") === method && (c.times === undefined || c.times > 0));
    if (answer) {
      if (answer.times !== undefined) answer.times -= 1;
      entry.route = "canned";
      if (answer.delayMs) await sleep(answer.delayMs, res);
      if (res.destroyed) return;
      if (answer.reset) {
        res.socket?.destroy();
        return;
      }
      const text = answer.body === undefined ? "" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status ?? 200, { "Content-Type": "application/json", ...answer.headers });
      res.end(method === "HEAD" ? undefined : text);
      return;
    }

    // ---- plain file host ---------------------------------------------------------------------------------
    if ((m = /^\/files\/(.+)$/.exec(p)) && getOrHead) {
      entry.route = "files";
      const f = files.get(decodePath(m[1] ?? "") ?? "");
      touch(f);
      if (!f) return text(res, 404, "Not Found\n", "text/plain; charset=utf-8");
      return serveBytes(req, res, entry, f);
    }

    // ---- Hugging Face CDN ---------------------------------------------------------------------------------
    if ((m = /^\/cdn\/(.+)$/.exec(p)) && getOrHead) {
      entry.route = "cdn";
      const f = files.get(decodePath(m[1] ?? "") ?? "");
      touch(f);
      if (!f) return s3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
      const name = f.spec.id.split("/").pop() ?? f.spec.id;
      return serveBytes(req, res, entry, f, {
        "Content-Disposition": `inline; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name}";`,
      });
    }

    // ---- CivitAI signed storage ---------------------------------------------------------------------------
    if ((m = /^\/signed\/(.+)$/.exec(p)) && getOrHead) {
      entry.route = "signed";
      const f = files.get(decodePath(m[1] ?? "") ?? "");
      touch(f);
      if (header(req, "authorization") !== null)
        return s3Error(
          res,
          400,
          "InvalidArgument",
          "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
      const exp = Number(u.searchParams.get("exp"));
      if (!u.searchParams.get("X-Amz-Signature") || !Number.isFinite(exp) || exp <= 0)
        return s3Error(res, 403, "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
      if (Date.now() >= exp) return s3Error(res, 403, "AccessDenied", "Request has expired");
      if (!f) return s3Error(res, 404, "NoSuchKey", "The specified key does not exist.");
      if (f.spec.signedUses !== undefined && req.method === "GET") {
        const signature = u.searchParams.get("X-Amz-Signature") ?? "";
        const used = signedUsed.get(signature) ?? 0;
        if (used >= f.spec.signedUses) return s3Error(res, 403, "AccessDenied", "Request has expired");
        signedUsed.set(signature, used + 1);
      }
      const extra: Record<string, string> = {};
      const disposition = u.searchParams.get("response-content-disposition");
      if (disposition) extra["Content-Disposition"] = disposition;
      return serveBytes(req, res, entry, f, extra);
    }

    // ---- CivitAI API ---------------------------------------------------------------------------------------
    if ((m = /^\/api\/download\/models\/([^/]+)\/?$/.exec(p)) && getOrHead) {
      entry.route = "civitai-download";
      const versionId = decodePath(m[1] ?? "") ?? "";
      const f = files.get(`civitai/${versionId}`);
      touch(f);
      if (!f) return json(res, 404, { error: "Not Found", message: `No model version with id ${versionId}` });
      const auth = header(req, "authorization");
      const token = u.searchParams.get("token") ?? (auth?.startsWith("Bearer ") ? auth.slice(7) : null);
      if (f.spec.mode === "early-access")
        return json(res, 403, {
          error: "Forbidden",
          message: "This resource is in early access and you do not have access to it. Purchase early access to download it.",
        });
      if (f.spec.mode === "needs-token" && (tokens.civitai === null || token !== tokens.civitai))
        return json(res, 401, {
          error: "Unauthorized",
          message: "The creator of this asset requires you to be logged in to download it",
        });
      const ttl = f.spec.signedTtlMs;
      const exp = Date.now() + ttl;
      const q = new URLSearchParams({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "FAKEACCESSKEY/20240115/us-east-1/s3/aws4_request",
        "X-Amz-Date": new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, ""),
        "X-Amz-Expires": String(Math.max(0, Math.ceil(ttl / 1000))),
        "X-Amz-Signature": randomBytes(32).toString("hex"),
        "X-Amz-SignedHeaders": "host",
        "response-content-disposition": `attachment; filename="${f.spec.name}"`,
        exp: String(exp),
      });
      const location = `${otherHost(req)}/signed/${encodePath(f.spec.id)}?${q.toString()}`;
      return text(res, 307, `Temporary Redirect. Redirecting to ${location}`, "text/plain; charset=utf-8", { Location: location });
    }

    if ((m = /^\/api\/v1\/model-versions\/([^/]+)\/?$/.exec(p)) && method === "GET") {
      entry.route = "civitai-api";
      const versionId = decodePath(m[1] ?? "") ?? "";
      const f = files.get(`civitai/${versionId}`);
      touch(f);
      if (!f) return json(res, 404, { error: `No model version with id ${versionId}` });
      const numericId = /^\d+$/.test(versionId) ? Number(versionId) : versionId;
      const modelId = (fmix32(Number.parseInt(f.sha256.slice(0, 8), 16)) % 900_000) + 100_000;
      const sha = f.sha256.toUpperCase();
      const when = LAST_MODIFIED.toISOString();
      const downloadUrl = `${sameHost(req)}/api/download/models/${encodeURIComponent(versionId)}`;
      return json(res, 200, {
        id: numericId,
        modelId,
        name: "v1.0",
        createdAt: when,
        updatedAt: when,
        status: "Published",
        publishedAt: when,
        trainedWords: [],
        trainingStatus: null,
        trainingDetails: null,
        baseModel: "SDXL 1.0",
        baseModelType: "Standard",
        earlyAccessEndsAt: f.spec.mode === "early-access" ? new Date(Date.now() + 7 * 86_400_000).toISOString() : null,
        availability: f.spec.mode === "early-access" ? "EarlyAccess" : "Public",
        description: null,
        uploadType: "Created",
        stats: { downloadCount: 1234, ratingCount: 0, rating: 0, thumbsUpCount: 56 },
        model: { name: `Test model ${versionId}`, type: "Checkpoint", nsfw: false, poi: false },
        files: [
          {
            id: modelId * 7 + 1,
            sizeKB: f.spec.size / 1024,
            name: f.spec.name,
            type: "Model",
            pickleScanResult: "Success",
            pickleScanMessage: "No Pickle imports",
            virusScanResult: "Success",
            virusScanMessage: null,
            scannedAt: when,
            metadata: { fp: "fp16", size: "pruned", format: "SafeTensor" },
            hashes: {
              AutoV1: sha.slice(0, 8),
              AutoV2: sha.slice(0, 10),
              SHA256: sha,
              CRC32: f.crc32.toString(16).toUpperCase().padStart(8, "0"),
              // not a real BLAKE3 (node has none); shaped like one
              BLAKE3: createHash("sha256").update(`blake3:${f.sha256}`).digest("hex").toUpperCase(),
              AutoV3: sha.slice(0, 12),
            },
            primary: true,
            downloadUrl,
          },
        ],
        images: [],
        downloadUrl,
      });
    }

    // ---- Hugging Face API ---------------------------------------------------------------------------------
    if ((m = /^\/api\/models\/([^/]+)\/([^/]+?)(?:\/revision\/[^/]+)?\/?$/.exec(p)) && method === "GET") {
      entry.route = "hf-api";
      const repo = `${decodePath(m[1] ?? "")}/${decodePath(m[2] ?? "")}`;
      const inRepo = [...files.values()].filter((f) => f.spec.id.startsWith(`${repo}/`));
      if (inRepo.length === 0)
        return json(res, 401, { error: "Repository not found" }, { "X-Error-Code": "RepositoryNotFound" });
      for (const f of inRepo) touch(f);
      const [author = "", name = ""] = repo.split("/");
      const when = LAST_MODIFIED.toISOString();
      return json(res, 200, {
        _id: createHash("sha1").update(`id:${repo}`).digest("hex").slice(0, 24),
        id: repo,
        modelId: repo,
        author,
        sha: commitOf(repo),
        lastModified: when,
        private: false,
        gated: inRepo.some((f) => f.spec.mode === "gated") ? "auto" : false,
        disabled: false,
        downloads: 4321,
        likes: 42,
        tags: ["diffusers", "safetensors", "text-to-image", name.toLowerCase()],
        pipeline_tag: "text-to-image",
        library_name: "diffusers",
        siblings: inRepo.map((f) => ({ rfilename: f.spec.id.slice(repo.length + 1) })),
        createdAt: when,
      });
    }

    // ---- Hugging Face resolve -----------------------------------------------------------------------------
    if ((m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p)) && getOrHead) {
      entry.route = "hf-resolve";
      const repo = `${decodePath(m[1] ?? "")}/${decodePath(m[2] ?? "")}`;
      const id = `${repo}/${decodePath(m[4] ?? "") ?? ""}`;
      const f = files.get(id);
      touch(f);
      const commit = commitOf(repo);
      if (!f) {
        const known = [...files.keys()].some((k) => k.startsWith(`${repo}/`));
        return known
          ? json(res, 404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit })
          : json(res, 401, { error: "Repository not found" }, { "X-Error-Code": "RepositoryNotFound" });
      }
      if (f.spec.mode === "gated" && !hfGatedOk(req)) {
        const message = `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
        return json(res, 401, { error: message }, { "X-Error-Code": "GatedRepo", "X-Error-Message": message });
      }
      const location = `${otherHost(req)}/cdn/${encodePath(f.spec.id)}?sig=${randomBytes(16).toString("hex")}&Expires=${Math.floor(Date.now() / 1000) + 3600}`;
      return text(res, 302, `Found. Redirecting to ${location}`, "text/plain; charset=utf-8", {
        Location: location,
        "X-Linked-Size": String(f.spec.size),
        "X-Linked-Etag": `"${f.sha256}"`,
        ETag: `"${f.sha256}"`,
        "X-Repo-Commit": commit,
        "Access-Control-Expose-Headers":
          "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag,X-Xet-Hash",
      });
    }

    return text(res, 404, "Not Found\n", "text/plain; charset=utf-8");
  }

  function newEntry(
    method: string,
    path: string,
    host: string,
    authorization: string | null,
    range: string | null,
    ifRange: string | null,
    userAgent: string | null,
  ): LogEntry {
    return {
      seq: 0,
      time: Date.now(),
      method,
      path,
      host,
      authorization,
      range,
      ifRange,
      userAgent,
      route: "unknown",
      fileId: null,
      status: 0,
      bytesSent: 0,
      finished: false,
      aborted: false,
    };
  }

  const inflight = new Map<LogEntry, ServerResponse>();

  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    const entry = newEntry(
      req.method ?? "",
      path,
      header(req, "host") ?? "",
      header(req, "authorization"),
      header(req, "range"),
      header(req, "if-range"),
      header(req, "user-agent"),
    );
    if (!path.startsWith("/_control/")) {
      entry.seq = ++seq;
      log.push(entry);
      inflight.set(entry, res);
      res.once("finish", () => {
        entry.finished = true;
      });
      res.once("close", () => {
        inflight.delete(entry);
        entry.status = res.headersSent ? res.statusCode : 0;
        if (!entry.finished) entry.aborted = true;
      });
    }
    handle(req, res, entry).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof BadRequest) json(res, 400, { error: err.message });
      else json(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
  });
  // longer than any client keeps an idle socket, so a reused connection is never closed under a request
  server.keepAliveTimeout = 65_000;

  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    url: url(),
    altUrl: altUrl(),
    close: async () => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Client (for test files, over HTTP)
// ---------------------------------------------------------------------------------------------------------

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

export interface UpstreamClient {
  /** Adds a canned answer (see Canned). */
  can(answer: Canned): Promise<void>;
  register(file: FileSpec): Promise<RegisteredFile>;
  /** Replaces both tokens (an absent one is cleared). */
  setTokens(t: Tokens): Promise<void>;
  log(): Promise<LogEntry[]>;
  /** Clears the log only (files and tokens stay). */
  clearLog(): Promise<void>;
  stats(id: string): Promise<FileStats>;
  /** Clears log, files and tokens. */
  reset(): Promise<void>;
  /** `<base>/files/<id>` */
  fileUrl(id: string): string;
  /** `<base>/<owner>/<repo>/resolve/main/<path>` for an id `<owner>/<repo>/<path>` */
  hfUrl(id: string): string;
  /** `<base>/api/download/models/<versionId>` */
  civitaiUrl(versionId: string | number): string;
}

export function upstreamClient(baseUrl: string): UpstreamClient {
  const base = baseUrl.replace(/\/+$/, "");
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`upstream ${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
  return {
    can: async (answer) => {
      await call("POST", "/_control/canned", answer);
    },
    register: (file) => call<RegisteredFile>("POST", "/_control/files", file),
    setTokens: async (t) => {
      await call("POST", "/_control/tokens", t);
    },
    log: () => call<LogEntry[]>("GET", "/_control/log"),
    clearLog: async () => {
      await call("DELETE", "/_control/log");
    },
    stats: (id) => call<FileStats>("GET", `/_control/files/${encodePath(id)}/stats`),
    reset: async () => {
      await call("POST", "/_control/reset");
    },
    fileUrl: (id) => `${base}/files/${encodePath(id)}`,
    hfUrl: (id) => {
      const [owner = "", repo = "", ...rest] = id.split("/");
      return `${base}/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/resolve/main/${encodePath(rest.join("/"))}`;
    },
    civitaiUrl: (versionId) => `${base}/api/download/models/${encodeURIComponent(String(versionId))}`,
  };
}
