/**
 * The HTTP pieces every part of the upstream stand-in uses: reading a control request's JSON, path
 * segments, the Range header, and answers shaped as the real services send them (JSON, text, S3's XML).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** A control request the stand-in refuses with 400. */
export class BadRequest extends Error {}

/** A control request's JSON body ({} when empty), up to 1 MiB. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
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
export function decodePath(p: string): string | null {
  try {
    return p.split("/").map(decodeURIComponent).join("/");
  } catch {
    return null;
  }
}

/** An id as a URL path, each segment percent-encoded. */
export const encodePath = (id: string): string => id.split("/").map(encodeURIComponent).join("/");

/** A request header as one string (repeated ones joined), or null. */
export const header = (req: IncomingMessage, name: string): string | null => {
  const v = req.headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(", ") : v;
};

/** Parses a single `bytes=` range. undefined = no usable Range (serve 200); "unsatisfiable" = 416. */
export function parseRange(value: string | null, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
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

/** A JSON answer (no body for a HEAD). */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

/** A text answer of `contentType` (no body for a HEAD). */
export function text(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** An error as S3 (signed storage, the CDN) answers it: XML with a code and a message. */
export function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  text(res, status, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`, "application/xml");
}

/** Resolves once `res` may be written again, or has closed. */
export function drainOrClose(res: ServerResponse): Promise<void> {
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
