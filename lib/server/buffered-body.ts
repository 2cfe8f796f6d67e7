/**
 * A request's body read whole at the front door (front.ts) before the request may take one of the 16
 * upstream slots: a client that sends its body slowly then waits here, holding a socket and its bytes but
 * no slot, and is cut off once its body is late. What it may hold is bounded: bodies are at most 10 MB
 * and all of those held at once at most `bufferedBytes`.
 */
import type http from "node:http";
import { MAX_BODY_BYTES } from "../http/body";
import { refuseAndClose } from "./refusals";

export interface DoorLimits {
  /** The request line and headers must arrive within this long (Node's headersTimeout). */
  readonly headersMs: number;
  /** A body must arrive whole within this long of its headers... */
  readonly bodyMs: number;
  /** ...or later, as long as it comes at this average rate: each this many bytes buys one second more. */
  readonly bodyBytesPerSecond: number;
  /** The bytes of bodies held at once, on their way in or waiting for their turn upstream. */
  readonly bufferedBytes: number;
  /** How long a refused client that is still sending is read (and what it sends dropped) before the close. */
  readonly lingerMs: number;
}

/**
 * 15 s for any body, and 32 KB/s (256 kbit/s) on average for a larger one: 10 MB may take up to 5 min
 * 20 s. 64 MB of bodies at once: six uploads of 10 MB, or thousands of the usual small JSON bodies.
 */
export const DOOR_LIMITS: DoorLimits = {
  headersMs: 10_000,
  bodyMs: 15_000,
  bodyBytesPerSecond: 32 * 1024,
  bufferedBytes: 64 * 1024 * 1024,
  lingerMs: 2_000,
};

/** When a body whose headers came at `startedAt`, and of which `received` bytes have arrived, is late. */
export const bodyDeadline = (startedAt: number, received: number, limits: DoorLimits): number =>
  startedAt + Math.max(limits.bodyMs, (received / limits.bodyBytesPerSecond) * 1_000);

/** The longest an honest request may take to arrive whole: Node's requestTimeout, a backstop. */
export const longestRequestMs = (limits: DoorLimits): number =>
  limits.headersMs + bodyDeadline(0, MAX_BODY_BYTES, limits) + limits.lingerMs;

export const TOO_LARGE = "Request body is larger than 10 MB";
const BUSY = "Too many request bodies on their way in at once: try again in a few seconds";

function lateDetail(received: number, declared: number, startedAt: number, limits: DoorLimits): string {
  const of = declared > 0 ? ` of ${declared}` : "";
  const seconds = Math.round((Date.now() - startedAt) / 1_000);
  return (
    `Request body too slow: ${received}${of} bytes arrived in ${seconds} s. Send the whole body within ` +
    `${limits.bodyMs / 1_000} s (larger ones at ${limits.bodyBytesPerSecond / 1024} KB/s or more), then try again`
  );
}

export interface BufferOptions {
  readonly limits: DoorLimits;
  /** The bytes the bodies held at the door may still take, shared by every request. */
  readonly budget: { free: number };
  /** The headers every answer of this request carries (CORS). */
  readonly headers: http.OutgoingHttpHeaders;
}

/**
 * Reads the body of `req` and calls `then` with it once it is whole. Answers itself otherwise: 408 when
 * it is late, 413 past 10 MB, 503 when the budget has no room for it; each time the connection is closed
 * and the bytes read so far are let go. Its share of the budget is given back when the answer is done.
 */
export function bufferBody(req: http.IncomingMessage, res: http.ServerResponse, options: BufferOptions, then: (body: Buffer) => void): void {
  const { limits, budget, headers } = options;
  const declared = Number(req.headers["content-length"] ?? 0) || 0;
  let reserved = 0;
  const reserve = (bytes: number): boolean => {
    if (bytes - reserved > budget.free) return false;
    budget.free -= bytes - reserved;
    reserved = bytes;
    return true;
  };
  res.once("close", () => (budget.free += reserved));

  const startedAt = Date.now();
  let chunks: Buffer[] = [];
  let received = 0;
  let timer: NodeJS.Timeout | undefined;
  const refuse = (status: number, detail: string, lingerMs = limits.lingerMs) => {
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", onEnd);
    chunks = [];
    refuseAndClose(req, res, status, detail, status === 503 ? { ...headers, "retry-after": "5" } : headers, lingerMs);
  };
  // re-armed for the later deadline each time it fires: each byte that arrived has pushed it back
  const arm = () => {
    timer = setTimeout(() => {
      if (Date.now() < bodyDeadline(startedAt, received, limits)) arm();
      else refuse(408, lateDetail(received, declared, startedAt, limits));
    }, Math.max(0, bodyDeadline(startedAt, received, limits) - Date.now()));
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    // the rest of a body too large is still read (and dropped) for as long as a whole one may take to come
    if (received > MAX_BODY_BYTES) refuse(413, TOO_LARGE, limits.bodyMs);
    // a chunked body has no length to reserve up front: it takes its room as it comes
    else if (received > reserved && !reserve(received)) refuse(503, BUSY);
    else chunks.push(chunk);
  };
  const onEnd = () => {
    clearTimeout(timer);
    const body = Buffer.concat(chunks, received);
    chunks = [];
    then(body);
  };
  if (!reserve(declared)) return refuse(503, BUSY);
  req.on("data", onData);
  req.on("end", onEnd);
  res.once("close", () => clearTimeout(timer));
  arm();
}
