/**
 * The plain file host (GET|HEAD /files/<id>), and the byte serving it shares with Hugging Face's CDN and
 * CivitAI's signed storage: ranges, If-Range, ETag and Last-Modified, and each file's fault mode (cut,
 * stalled, throttled, refused, a login page instead of the file, other bytes than registered).
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { alteredSeed, BLOCK_SIZE, chunks } from "./content";
import { type Context, type Endpoint, type Exchange, type FileState, GET_OR_HEAD, LAST_MODIFIED, touch } from "./files";
import { decodePath, drainOrClose, header, json, parseRange, text } from "./http";

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

const etagOf = (f: FileState): string => {
  if (f.generation === 0) return f.spec.etag;
  const inner = f.spec.etag.replace(/^W\//, "").replace(/"/g, "");
  return `"${createHash("sha256").update(`${inner}:gen${f.generation}`).digest("hex").slice(0, 16)}"`;
};
const lastModifiedOf = (f: FileState): string =>
  new Date(LAST_MODIFIED.getTime() + f.generation * 86_400_000).toUTCString();
const servedSeed = (f: FileState): number =>
  f.spec.mode === "wrong-bytes" ? alteredSeed(f.spec.seed) : alteredSeed(f.spec.seed, f.generation);

/** How a GET is cut: "drop" closes the connection halfway, "stall" goes silent after 1 MiB at most. */
type Cut = "drop" | "stall" | null;

/** Answers for a mode that refuses the request instead of serving bytes; true when it did. */
function refused(res: ServerResponse, f: FileState, isGet: boolean, get: number): boolean {
  const mode = f.spec.mode;
  if (mode.startsWith("status-")) {
    const code = Number(mode.slice("status-".length));
    json(res, code, { error: STATUS_TEXT[code] ?? `Status ${code}`, status: code });
    return true;
  }
  if (isGet && mode === "flaky-500" && get <= 2) {
    json(res, 500, { error: "Internal Server Error" });
    return true;
  }
  if (isGet && mode === "rate-429" && get === 1) {
    json(res, 429, { error: "Too Many Requests" }, { "Retry-After": "1" });
    return true;
  }
  if (mode === "html") {
    text(res, 200, HTML_LOGIN, "text/html; charset=utf-8");
    return true;
  }
  return false;
}

/** Serves the bytes of `f` (plain host, HF CDN, signed storage), applying the file's fault mode. */
export async function serveBytes(ctx: Context, ex: Exchange, f: FileState, extra: Record<string, string> = {}): Promise<void> {
  const { req, res } = ex;
  const isGet = req.method === "GET";
  const mode = f.spec.mode;
  const get = isGet ? ++f.gets : f.gets;
  if (refused(res, f, isGet, get)) return;

  // the representation this request sees (change-etag moves on after the first GET has started)
  const seed = servedSeed(f);
  const etag = etagOf(f);
  const lastModified = lastModifiedOf(f);
  const size = f.spec.size;
  let cut: Cut = null;
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
  await streamBytes(ctx, ex, f, seed, start, end, cut);
}

/** Writes the content [start, end) of `f` (as `seed` makes it) at the file's pace, then ends, cuts or stalls. */
async function streamBytes(ctx: Context, ex: Exchange, f: FileState, seed: number, start: number, end: number, cut: Cut): Promise<void> {
  const { res, entry } = ex;
  const length = end - start;
  const stopAt =
    cut === "drop" ? start + Math.floor(length / 2) : cut === "stall" ? start + Math.min(1024 * 1024, Math.floor(length / 2)) : end;
  const bps = f.spec.bytesPerSecond;
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
    if (gone || res.destroyed || ctx.closing) return;
    if (bps > 0) {
      const due = (written / bps) * 1000 - (Date.now() - began);
      if (due > 0) await ctx.sleep(due, res);
      if (gone || res.destroyed || ctx.closing) return;
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
  await ctx.sleep(STALL_MAX_MS, res);
  res.socket?.destroy();
  res.destroy();
}

/** GET|HEAD /files/<id>: the file's bytes, as a plain web server serves them. */
export const plainFile: Endpoint = {
  route: "files",
  methods: GET_OR_HEAD,
  pattern: /^\/files\/(.+)$/,
  serve(ctx, ex, m) {
    const f = ctx.files.get(decodePath(m[1] ?? "") ?? "");
    touch(ex, f);
    if (!f) return text(ex.res, 404, "Not Found\n", "text/plain; charset=utf-8");
    return serveBytes(ctx, ex, f);
  },
};
