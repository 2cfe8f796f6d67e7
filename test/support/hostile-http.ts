import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import zlib from "node:zlib";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { markersIn, type MarkerHit } from "./secrets";
import { PROJECT_DIR } from "./stack";

export interface Route {
  readonly method: string;
  readonly path: string;
}

/** The routes as serverless.yml declares them, so that a route added later is attacked too. */
export async function declaredRoutes(): Promise<Route[]> {
  const yml = await readFile(path.join(PROJECT_DIR, "serverless.yml"), "utf8");
  const routes: Route[] = [];
  for (const match of yml.matchAll(/-\s+http:\s*\n\s+path:\s*(\S+)\s*\n\s+method:\s*(\w+)/g)) {
    routes.push({ path: `/${match[1]!}`, method: match[2]!.toUpperCase() });
  }
  return routes;
}

/**
 * Raw HTTP for the hostile-input suite: node:http sends the path exactly as given (no URL parsing, no dot
 * segments resolved, no percent-encoding fixed), any method, duplicate headers, bodies with or without a
 * length. Every answer is checked for the marker credentials, headers and body alike.
 */
export interface RawRequest {
  readonly method: string;
  readonly path: string;
  /** Pairs, so that a header can be sent twice or in any case. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string | Buffer;
  /** Send the body as `Transfer-Encoding: chunked`, in pieces of this many bytes, without a length. */
  readonly chunkBytes?: number;
}

export interface RawReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  /** The client's own error, when the connection broke before an answer (never expected). */
  readonly error?: string;
  /** Marker credentials found in the headers or the body (never expected). */
  readonly leaks: MarkerHit[];
}

const TIMEOUT_MS = 20_000;

/** One request on a connection of its own. An event stream is read up to its first event, then closed. */
export function rawRequest(port: number, request: RawRequest): Promise<RawReply> {
  return new Promise((resolve) => {
    const flat: string[] = [];
    for (const [name, value] of request.headers ?? []) flat.push(name, value);
    // with headers as a list node:http adds no Host itself (a request without one: see rawSocket)
    if (!(request.headers ?? []).some(([name]) => name.toLowerCase() === "host")) flat.push("Host", "127.0.0.1");
    const body = typeof request.body === "string" ? Buffer.from(request.body, "utf8") : request.body;
    if (body !== undefined && request.chunkBytes === undefined) flat.push("Content-Length", String(body.length));
    const req = http.request({ host: "127.0.0.1", port, method: request.method, path: request.path, headers: flat, agent: false });
    let settled = false;
    const done = (reply: Omit<RawReply, "leaks">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...reply, leaks: markersIn(`${request.method} ${request.path}`, `${JSON.stringify(reply.headers)}\n${reply.text}`) });
    };
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, headers: {}, text: "", error: `no answer within ${TIMEOUT_MS} ms` });
    }, TIMEOUT_MS);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      const stream = /^text\/event-stream/.test(res.headers["content-type"] ?? "");
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (stream && Buffer.concat(chunks).includes("\n\n")) res.destroy();
      });
      const finish = () => done({ status: res.statusCode ?? 0, headers: res.headers, text: decoded(Buffer.concat(chunks), res.headers["content-encoding"], stream) });
      res.on("end", finish);
      res.on("close", finish);
    });
    // the client may still be sending when the server has answered and closed: the answer is what counts
    req.on("error", (error) => setTimeout(() => done({ status: 0, headers: {}, text: "", error: error.message }), 200));
    if (body === undefined) {
      req.end();
    } else if (request.chunkBytes === undefined) {
      req.end(body);
    } else {
      const size = request.chunkBytes;
      let offset = 0;
      const pump = () => {
        while (offset < body.length) {
          const piece = body.subarray(offset, offset + size);
          offset += piece.length;
          if (!req.write(piece)) {
            req.once("drain", pump);
            return;
          }
        }
        req.end();
      };
      pump();
    }
  });
}

/** The body as a client that sent Accept-Encoding reads it; as it came when it does not decode (or was cut). */
function decoded(body: Buffer, encoding: string | undefined, cut: boolean): string {
  try {
    if (!cut && encoding === "gzip") return zlib.gunzipSync(body).toString("utf8");
    if (!cut && encoding === "deflate") return zlib.inflateSync(body).toString("utf8");
    if (!cut && encoding === "br") return zlib.brotliDecompressSync(body).toString("utf8");
  } catch {
    return `undecodable ${encoding} body of ${body.length} bytes`;
  }
  return body.toString("utf8");
}

/** What a client of the API may rely on for any answer: no 5xx, and every error is JSON {"detail": ...}. */
export function answerProblems(request: RawRequest, reply: RawReply, page = false): string[] {
  const problems: string[] = [];
  const what = `${request.method} ${request.path.slice(0, 200)}`;
  if (reply.leaks.length > 0) problems.push(`${what}: a credential in the answer`);
  if (reply.error !== undefined) return [...problems, `${what}: no answer (${reply.error})`];
  const type = String(reply.headers["content-type"] ?? "");
  if (reply.status >= 500) problems.push(`${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
  if (reply.status < 200 || reply.status >= 600) problems.push(`${what}: status ${reply.status}`);
  const head = request.method.toUpperCase() === "HEAD";
  if (reply.status >= 400) {
    if (!type.startsWith("application/json")) problems.push(`${what}: ${reply.status} with content-type '${type}'`);
    if (!head && !isDetail(reply.text)) problems.push(`${what}: ${reply.status} body is not {"detail"}: ${JSON.stringify(reply.text.slice(0, 200))}`);
  } else if (!head && reply.status !== 204) {
    if (type.startsWith("text/event-stream")) {
      if (!reply.text.startsWith("data: ")) problems.push(`${what}: event stream starts ${JSON.stringify(reply.text.slice(0, 80))}`);
    } else if (page && type.startsWith("text/html")) {
      // the admin page
    } else if (reply.status === 304 && page) {
      // the page, not modified
    } else if (!type.startsWith("application/json") || !isJson(reply.text)) {
      problems.push(`${what}: ${reply.status} with content-type '${type}' and a body that is not JSON`);
    }
  }
  return problems;
}

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

const isDetail = (text: string): boolean => {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown } | null;
    return typeof parsed === "object" && parsed !== null && parsed.detail !== undefined;
  } catch {
    return false;
  }
};

/** Percent-encodes every byte of `text`'s UTF-8 but the unreserved ones (lone surrogates become U+FFFD). */
export function encodeBytes(bytes: Uint8Array, keep: (byte: number) => boolean = unreserved): string {
  let out = "";
  for (const byte of bytes) out += keep(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

const unreserved = (byte: number): boolean =>
  (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || "-._~".includes(String.fromCharCode(byte));

export const encodeText = (text: string): string => encodeBytes(Buffer.from(text, "utf8"));

/**
 * What a rejected request must leave alone: every file of the studio and the models folder with its
 * content (links with their target), except what the sidecar changes on its own: its heartbeat
 * (sidecar.json), and lock folders that come and go. The status file it leaves alone when it has nothing to do.
 */
export async function stateSnapshot(...roots: string[]): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const visit = async (entry: string): Promise<void> => {
    const info = await lstat(entry).catch(() => undefined);
    if (!info) return;
    // lock folders and the temp files of atomic writes come and go with the sidecar's heartbeat and lock
    if (/\.lock$|\.tmp$/.test(entry)) return;
    if (info.isSymbolicLink()) {
      entries.set(entry, `link -> ${await readlink(entry).catch(() => "?")}`);
    } else if (info.isDirectory()) {
      entries.set(entry, "dir");
      for (const name of await readdir(entry).catch(() => [])) await visit(path.join(entry, name));
    } else if (path.basename(entry) === "sidecar.json") {
      entries.set(entry, "heartbeat");
    } else if (path.basename(entry) === "sidecar.holder.json") {
      entries.set(entry, "holder");
    } else {
      const hash = createHash("sha256")
        .update(await readFile(entry).catch(() => Buffer.alloc(0)))
        .digest("hex");
      entries.set(entry, `${info.size} ${hash}`);
    }
  };
  for (const root of roots) await visit(root);
  return entries;
}

/** The entries that differ between two snapshots, for a failure message. */
export function snapshotChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [entry, value] of after) {
    const old = before.get(entry);
    if (old === undefined) changes.push(`added ${entry}`);
    else if (old !== value) changes.push(`changed ${entry}: ${old.slice(0, 120)} -> ${value.slice(0, 120)}`);
  }
  for (const entry of before.keys()) if (!after.has(entry)) changes.push(`removed ${entry}`);
  return changes;
}

/** Every path under `root` (files, folders, links), without following links. */
export async function pathsUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (entry: string): Promise<void> => {
    found.push(entry);
    const info = await lstat(entry).catch(() => undefined);
    if (info?.isDirectory()) for (const name of await readdir(entry).catch(() => [])) await visit(path.join(entry, name));
  };
  await visit(root);
  return found;
}

/** Bytes written as they are on a connection of their own: for requests node:http refuses to send. */
export function rawSocket(port: number, bytes: string | Buffer, waitMs = 3_000): Promise<{ text: string; leaks: MarkerHit[] }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ text, leaks: markersIn("raw socket", text) });
    });
  });
}

/** The answer on a raw socket, split into status, headers and body; undefined when there was none. */
export function parseRawAnswer(text: string): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = text.indexOf("\r\n\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (end < 0 || !match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = text.slice(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = unchunk(body);
  return { status: Number(match[1]), headers, body };
}

function unchunk(body: string): string {
  let out = "";
  for (let rest = body; ; ) {
    const line = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, line), 16);
    if (line < 0 || !(size > 0)) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 4 + size);
  }
}
