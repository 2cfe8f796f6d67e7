/**
 * What the front door (front.ts) answers itself, always as the API's JSON {"detail": ...}: serverless-offline's
 * own errors rewritten, and what Node's HTTP server would otherwise refuse with an empty or bare answer
 * before any route runs.
 */
import http from "node:http";
import type { Duplex } from "node:stream";

/** A JSON {"detail"} answer that is never cached; `end: false` leaves it open (see refuseAndClose). */
export function send(res: http.ServerResponse, status: number, detail: string, headers: http.OutgoingHttpHeaders = {}, end = true): void {
  const body = JSON.stringify({ detail });
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(body),
  });
  if (end) res.end(body);
  else res.write(body);
}

/**
 * Answers at once a request whose body is still coming (a wrong key, a late or too large body), and closes
 * its connection. Closed at once, the client's next bytes would meet a reset, which may take the answer with
 * it before the client has read it (RFC 9112, 9.6), and many clients (node:http among them) read nothing
 * before they have sent their whole body: so the answer is written whole, what still comes is read and
 * dropped for at most `lingerMs` (or until the body ends), and then the connection is closed.
 */
export function refuseAndClose(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  detail: string,
  headers: http.OutgoingHttpHeaders,
  lingerMs: number,
): void {
  send(res, status, detail, { ...headers, connection: "close" }, false);
  const close = () => {
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const timer = setTimeout(close, lingerMs);
  res.once("close", () => clearTimeout(timer));
  if (req.readableEnded) return close();
  req.on("end", close);
  req.resume();
}

/** Rewrites serverless-offline's own error bodies (an unknown route, a crashed handler) into {"detail"}. */
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
  if (status >= 500) return "Internal error";
  if (typeof fields.message === "string") return fields.message;
  if (typeof fields.error === "string") return fields.error;
  // hapi's own refusals can be empty or text: a client of this API only ever parses JSON
  return http.STATUS_CODES[status] ?? "Bad Request";
}

/** How long the rest of a request refused before it parsed is read and dropped, so that its answer arrives. */
const REFUSED_LINGER_MS = 5_000;

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
 * an Expect it does not know, a CONNECT. Answered here in the API's shape instead.
 */
export function refuseOutsideRoutes(server: http.Server): void {
  // Sockets answered here. The rest of a refused request (a 1 MB header, say) keeps arriving, and Node's parser
  // reports each further chunk as another clientError: destroying the socket then would make the kernel reset
  // the connection over the unread data, and the client would lose the answer already sent. So it is read and
  // dropped until the client closes, for REFUSED_LINGER_MS at most.
  const answered = new WeakSet<Duplex>();
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (answered.has(socket)) return;
    // a response already under way (or a client gone) is not ours to answer any more
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    sendRaw(socket, ...clientErrorReply(error));
    answered.add(socket);
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  });
  server.on("checkExpectation", (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    send(res, 417, `Expectation Failed: only 'Expect: 100-continue' is understood`, { connection: "close" });
  });
  server.on("connect", (_req: http.IncomingMessage, socket: Duplex) => sendRaw(socket, 405, "Method Not Allowed"));
}
