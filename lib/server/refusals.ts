import http from "node:http";
import type { Duplex } from "node:stream";

/**
 * What the front door (front.ts) answers itself, always as the API's JSON {"detail": ...}: serverless-offline's
 * own errors rewritten, bodies it must not see (over 10 MB, compressed), and what Node's HTTP server would
 * otherwise refuse with an empty or bare answer before any route runs.
 */

/** Writes the head of a JSON {"detail"} answer that is never cached, and returns its body. */
function jsonHead(res: http.ServerResponse, status: number, detail: string, headers: http.OutgoingHttpHeaders): string {
  const body = JSON.stringify({ detail });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  return body;
}

/** A JSON {"detail"} answer that is never cached. */
export const send = (res: http.ServerResponse, status: number, detail: string, headers: http.OutgoingHttpHeaders = {}) => {
  res.end(jsonHead(res, status, detail, headers));
};

/** Rewrites serverless-offline's own error bodies into the API's {"detail": ...} shape. */
export function upstreamErrorDetail(status: number, body: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const fields = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { detail?: unknown; message?: unknown; error?: unknown };
  if (fields.detail !== undefined) return undefined;
  if (status === 404) return "Not Found";
  if (status === 413) return "Request body is larger than 10 MB";
  if (status >= 500) return "Internal error";
  if (typeof fields.message === "string") return fields.message;
  if (typeof fields.error === "string") return fields.error;
  // hapi's own refusals can be empty or text: a client of this API only ever parses JSON
  return http.STATUS_CODES[status] ?? "Bad Request";
}

/**
 * A body sent compressed. serverless-offline's hapi inflates it itself, and a body that does not inflate
 * ("Invalid compressed payload") is an exception that kills the whole serverless-offline process: refused
 * here instead, with a 415 saying what to do.
 */
export function compressedBody(headers: http.IncomingHttpHeaders, length: number): boolean {
  const encoding = headers["content-encoding"];
  const hasBody = length > 0 || headers["transfer-encoding"] !== undefined;
  return hasBody && encoding !== undefined && !/^\s*(identity)?\s*$/i.test(encoding);
}

/** How much of a refused body is read and dropped before the 413, beyond the 10 MB that were allowed. */
const DISCARD_BYTES = 64 * 1024 * 1024;

/**
 * Answers 413 to a body over the limit. Many clients (node:http among them) read no answer before they
 * have sent their whole body, and a connection closed under them is an EPIPE, not a 413: so the rest is
 * read and dropped first, up to DISCARD_BYTES and for at most `waitMs`; a client that sends more, or
 * takes longer, is answered and cut off. The connection is closed after the answer, never reused with
 * the body half read.
 */
export function refuseTooLarge(req: http.IncomingMessage, res: http.ServerResponse, cors: http.OutgoingHttpHeaders, received: number, waitMs = 15_000) {
  const answer = () => {
    clearTimeout(timer);
    if (!res.headersSent) send(res, 413, "Request body is larger than 10 MB", { ...cors, connection: "close" });
  };
  const timer = setTimeout(answer, waitMs);
  // a declared length past what would be read: no point waiting for it
  if (req.complete || received > DISCARD_BYTES || Number(req.headers["content-length"] ?? 0) > DISCARD_BYTES) {
    answer();
    return;
  }
  let discarded = received;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_BYTES) answer();
  });
  req.on("end", answer);
  res.once("close", () => clearTimeout(timer));
  req.resume();
}

/**
 * Answers at once a request whose body is still coming (a wrong key, a late body), and closes its
 * connection. Closed at once, the client's next bytes would meet a reset, which may take the answer
 * with it before the client has read it (RFC 9112, 9.6): so the answer is written whole, what still
 * comes is read and dropped for at most `lingerMs` (or until the body ends), and then it is closed.
 */
export function refuseAndClose(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  detail: string,
  headers: http.OutgoingHttpHeaders,
  lingerMs: number,
): void {
  const body = jsonHead(res, status, detail, { ...headers, connection: "close" });
  // the whole answer, but not its end: ending it is what closes the connection
  res.write(body);
  const close = () => {
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const timer = setTimeout(close, lingerMs);
  res.once("close", () => clearTimeout(timer));
  if (req.readableEnded) {
    close();
    return;
  }
  req.on("end", close);
  req.resume();
}

/** A raw `{"detail"}` answer on a socket that has no response object (the request never parsed). */
function sendRaw(socket: Duplex, status: number, detail: string): void {
  const body = JSON.stringify({ detail });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\n` +
      "content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nconnection: close\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Why Node's parser refused a request, as the status and detail the client gets. */
function clientErrorReply(error: NodeJS.ErrnoException): [number, string] {
  if (error.code === "HPE_HEADER_OVERFLOW") return [431, "Request line and headers are larger than 16 KB"];
  // the request line and headers were not whole within 10 s (or a body read without its own deadline ran
  // past the longest an honest one takes)
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return [408, "Request timed out: send the request line and headers at once, then try again"];
  if (error.code === "HPE_INVALID_METHOD") return [400, "Bad Request: unknown method"];
  return [400, "Bad Request: malformed HTTP request"];
}

/**
 * What Node's HTTP server would answer itself with an empty, non-JSON body: a request it cannot parse,
 * one without a Host, an Expect it does not know, a CONNECT. Answered here in the API's shape instead.
 */
export function refuseOutsideRoutes(server: http.Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    // a response already under way (or a client gone) is not ours to answer any more
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    sendRaw(socket, ...clientErrorReply(error));
  });
  server.on("checkExpectation", (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    send(res, 417, `Expectation Failed: only 'Expect: 100-continue' is understood`, { connection: "close" });
  });
  server.on("connect", (_req: http.IncomingMessage, socket: Duplex) => sendRaw(socket, 405, "Method Not Allowed"));
}
